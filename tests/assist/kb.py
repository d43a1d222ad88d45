"""A small knowledge base in the Bitext CSV format and a few tickets, written by the tests."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["row_id", "context", "role", "instruction", "intent", "entity_type", "entity_value",
          "start_offset", "end_offset", "category", "tags", "response"]

ARTICLES = [
    ("10", "how do I cancel my order", "cancel_order", "ORDER",
     "To cancel order {{Order Number}}, open {{Order History}} and press Cancel."),
    ("11", "I want to cancel a purchase I made", "cancel_order", "ORDER",
     "You can cancel order {{Order Number}} from the Order History page."),
    ("20", "where is my refund", "track_refund", "REFUND",
     "Refunds reach your account within five business days after approval."),
    ("21", "has my money been returned yet", "track_refund", "REFUND",
     "A refund takes up to five business days to show on your statement."),
    ("30", "how can I change my shipping address", "change_shipping_address", "SHIPPING",
     "Edit the shipping address under Account, Addresses, before the parcel ships."),
    ("31", "I need to update the delivery address", "change_shipping_address", "SHIPPING",
     "Go to Account, Addresses and save the new delivery address."),
    ("40", "I forgot my password", "recover_password", "ACCOUNT",
     "Use the Forgot password link on the sign-in page to get a reset e-mail."),
    ("41", "cannot log in, need a new password", "recover_password", "ACCOUNT",
     "Reset your password with the Forgot password link; the e-mail arrives in minutes."),
]


def write_bitext(path: Path, articles: list[tuple[str, str, str, str, str]] = ARTICLES) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row_id, question, intent, category, response in articles:
            writer.writerow([row_id, "customer support", "virtual assistant", question, intent,
                             "", "", "", "", category, "BL", response])
    return path
