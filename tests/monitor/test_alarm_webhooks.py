"""An alarm raised by ``supportops monitor run`` outside the server (cron) still reaches the
tenant's ``alarm.raised`` webhook: a receiver of ours on loopback gets it, signed, once."""

from __future__ import annotations

import json
from pathlib import Path

from supportops import Tenant
from supportops.webhooks import verify
from supportops.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.api.test_webhooks import Receiver
from tests.ml.test_lifecycle import _cli
from tests.monitor.test_feedback import ingest_topics
from tests.monitor.test_live import _ingest_live
from tests.monitor.test_report import _seed_encoder


def test_cli_monitor_run_delivers_the_alarm_webhook(tenant: Tenant, tmp_path: Path) -> None:
    receiver = Receiver(fail_first=0)
    try:
        hook = tenant.webhooks.subscribe(f"{receiver.url}/alarms", ["alarm.raised"])
        ingest_topics(tenant, tmp_path)
        _seed_encoder(tenant, tmp_path)
        tenant.triage.train("intents", "category", encoder="none")
        inside, outside = _ingest_live(tenant, tmp_path)
        tenant.monitor.set_threshold("min_window", 20)
        tenant.monitor.set_threshold("live_window", 30)
        for x in [*inside[:10], *outside]:
            tenant.triage.predict_one(x["text"], name="intents", ticket_id=x["id"])
        tenant.monitor.flush()

        ran = json.loads(_cli(tenant.workspace, "monitor", "run", "--json"))
        kinds = [a["kind"] for a in ran["checks"][0]["alarms"]]
        assert "input_drift" in kinds
        calls = receiver.on("/alarms")
        assert len(calls) == len(kinds) and ran["webhooks"]["delivered"] == len(kinds)
        bodies = [json.loads(c["body"]) for c in calls]
        assert all(b["type"] == "alarm.raised" and b["tenant"] == "acme" for b in bodies)
        assert sorted(b["data"]["kind"] for b in bodies) == sorted(kinds)
        drift = next(b["data"] for b in bodies if b["data"]["kind"] == "input_drift")
        alarm = next(a for a in ran["checks"][0]["alarms"] if a["kind"] == "input_drift")
        assert drift == {k: alarm[k] for k in ("model_name", "version", "kind", "score",
                                               "threshold", "n")}
        for call in calls:
            assert verify(hook["secret"], call["headers"][TIMESTAMP_HEADER], call["body"],
                          call["headers"][SIGNATURE_HEADER])

        again = json.loads(_cli(tenant.workspace, "monitor", "run", "--json"))
        assert again["checks"][0]["alarms"] == [] and len(receiver.on("/alarms")) == len(kinds)
    finally:
        receiver.server.shutdown()
