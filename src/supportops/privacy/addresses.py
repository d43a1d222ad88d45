"""Street addresses in the shapes used across Europe, the Americas, India and Oceania.

Why rules and not only NER: the small spaCy model tags some cities but almost never a
street line, and US-only parsers (``usaddress``, ``pyap``) miss "Hauptstraße 12, 10115
Berlin" or "ul. Długa 5, 90-457 Łódź". Street lines have a stable structure the world
over, built from a small closed class of street-type words:

- number first:  "742 Evergreen Terrace", "12, rue de la Paix", "Flat 3 14 High St";
- name first:    "Hauptstraße 12", "Kerkstraat 4a", "Via Roma, 12", "Calle Mayor 5",
                 "Rua das Flores, 123", "ul. Długa 5", "Storgatan 12", "Vestergade 3";
- an unknown-shaped "Name 12" only when a postcode + town follows.

A street line then absorbs what follows it on the same address: a unit ("Apt. 5",
"Piso 2", "2. tv"), a postcode and town ("10115 Berlin", "Springfield, OR 97403",
"London SW1A 1AA", "13031, Arborio (VC)") and up to two more comma/newline separated
place names. The whole address is one ``LOCATION`` span (the type that NER places have,
so adjacent pieces merge).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪĮİŁŃŅŇŌŐŒŘŚŞŠŢŤŪŮŰŲŸŹŻŽ"
_WORD = rf"[{_UP}][^\W\d_]*(?:[-'’][^\W\d_]+)*\.?"  # a capitalised word
_PARTICLE = (r"(?:de|del|de\s+la|de\s+los|de\s+las|du|des|la|le|les|d'|d’|di|da|do|dos|das|"
             r"della|dello|degli|van|von|der|den|het|y|e|al|el|am|an|auf|im|in|sur|sous|of|the)")
_NAME = rf"{_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_WORD}){{0,3}}"
_NAME_FR = rf"(?:{_PARTICLE}[ \t]+|{_PARTICLE}(?=[{_UP}]))?{_NAME}"

# English-language street types, written after the name ("Jones Light", "Kadakia Marg").
_EN_TYPE = (
    r"Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Square|Sq|Parkway|Pkwy|Highway|Hwy|Trail|Trl|Crescent|Cres|"
    r"Close|Gardens?|Grove|Row|Plaza|Alley|Loop|Path|Pike|Ridge|Run|Walk|Mews|Hills?|"
    r"Heights|Park|Point|Pass|Crossing|Xing|Expressway|Expy|Freeway|Fwy|Turnpike|Junction|"
    r"Landing|Manor|Meadows?|Mills?|Orchard|Oval|Port|Prairie|Ranch|Route|Rte|Shores?|"
    r"Springs?|Station|Summit|Trace|Track|Valley|View|Villas?|Village|Ville|Vista|Brooks?|"
    r"Bridge|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centre|Center|Cliffs?|Club|Commons?|"
    r"Corners?|Course|Coves?|Creek|Crest|Curve|Dale|Dam|Divide|Estates?|Extension|Falls?|"
    r"Ferry|Fields?|Flats?|Ford|Forest|Forge|Forks?|Fort|Freeway|Gateway|Glens?|Greens?|"
    r"Groves|Harbou?r|Haven|Hollow|Inlet|Island|Isle|Key|Knoll|Lakes?|Lights?|Lock|Lodge|"
    r"Loaf|Mall|Mission|Motorway|Mount|Mountain|Neck|Overpass|Pines|Plains?|Ports|Radial|"
    r"Ramp|Rapids|Rest|Rise|Parade|Esplanade|Promenade|Line|End|Approach|Gate|Quay|Wharf|"
    r"Chase|Circuit|Vale|Wynd|Nook|Retreat|Outlook|Glade|Strand|Concourse|Grange|Link|"
    r"Marg|Nagar|Chowk|Gali|Colony|Layout|Bazaar|Bazar|Ganj|Peth|Puram|Halli|Wadi|"
    r"Shoal|Skyway|Spur|Stravenue|Stream|Throughway|Trafficway|Tunnel|Underpass|Unions?|"
    r"Viaduct|Wall|Wells?|Junctions|Crossroad|Allé|Vej|Gade|Stræde|Plads|Torv|"
    r"Artery|Ramble|Tor|Locks?|Brace|Broadway|Cutting|Deviation|Entrance|Fairway|Frontage|"
    r"Highroad|Lookout|Pathway|Quadrant|Reserve|Ridgeway|Siding|Slope|Thoroughfare|"
    r"Tollway|Triangle|Waterway|Yard|Boulevarde|Cross|Gardens"
)
# Street types written before the name ("rue ...", "Via ...", "ul. ..."): any case.
_PRE_TYPE = (
    r"rue|avenue|boulevard|bd\.?|bvd\.?|chemin|allée|impasse|quai|viale|piazza|piazzale|"
    r"corso|vicolo|strada|contrada|calle|c/|avenida|avda\.?|paseo|pasaje|camino|carrer|"
    r"carretera|travesía|glorieta|rua|travessa|praça|alameda|estrada|rodovia|ladeira|"
    r"quadra|setor|conjunto|beco|pl\.|cuesta|callejón|urbanización|bajada|subida|plazuela|ul\.|ulica|al\.|aleja|plac|os\.|osiedle|skwer|rynek"
)
# Street types that are also common English words: capitalised only ("Via Roma 12").
_PRE_TYPE_CAP = (
    r"Av\.|Ave\.|Place|Route|Cours|Passage|Square|Via|Largo|Borgo|Plaza|Ronda|Rambla|Praia|"
    r"Vila|Pl\."
)
# Street types fused to the end of the name ("Hauptstraße", "Kerkstraat", "Storgatan").
_SUFFIX_TYPE = (
    r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|steig|pfad|chaussee|markt|"
    r"graben|hof|berg|boulevard|kanaal|gürtel|zeile|kai|straat|laan|gracht|plein|kade|singel|dijk|dreef|"
    r"steeg|pad|baan|hoven|gatan|gata|vägen|väg|gränd|torget|torg|stigen|backe|gade|vej|"
    r"allé|stræde|plads|torv|veien|vegen|gaten|katu|tie|kuja|polku|tori|kaari|rinne|"
    r"väylä|ulice|náměstí|nábřeží|třída"
)
_NUMBER = r"\d{1,5}[A-Za-z]?(?:\s?[-/]\s?\d{1,4}[A-Za-z]?)?"
_UNIT_WORD = (r"Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|Piso|Planta|Puerta|"
              r"Appartamento|Piano|Interno|Int|Scala|Wohnung|Whg|Etage|Stock|App|Bâtiment|Bât|"
              r"Étage|Escalier|Esc|lgh|Lgh|Lokal|m|Apto|Bloco|Casa|Sala|Andar|H\.No|"
              r"House\s+No|No|Nr|#")
_UNIT = (rf"(?:(?:{_UNIT_WORD})\.?\s*#?\s*\d{{1,5}}[A-Za-z]?(?:[A-Za-z](?!\w))?"
         r"|\d{1,2}\.?\s?(?:sal|th|tv|mf|st|floor|º|ª)\.?(?:\s?[A-Z]\b)?|\d{1,2}º\s?[A-Z]?)")

_STREET_NUM_FIRST = (
    rf"(?:(?:{_UNIT_WORD})\.?\s*(?:\d{{1,5}}[A-Za-z]?,?\s+)?)?{_NUMBER},?\s+"
    rf"(?:(?:(?i:{_PRE_TYPE})|{_PRE_TYPE_CAP})\s+{_NAME_FR}"
    rf"|(?:[NSEW]\.?[ \t]+)?{_NAME}[ \t]+(?:{_EN_TYPE})s?\b\.?"
    rf"(?:\s+[NSEW]{{1,2}}\b\.?)?)"
)
_STREET_NAME_FIRST = (
    rf"(?:(?:(?i:{_PRE_TYPE})|{_PRE_TYPE_CAP})\s+{_NAME_FR}|(?:{_WORD}[ \t]+)?[{_UP}][^\W\d_]*"
    rf"(?:-[^\W\d_]+)*-?(?i:{_SUFFIX_TYPE})(?!\w)|{_NAME}\s+(?:Allé|Vej|Gade|Plads|Torv|Gränd|Väg))"
    rf",?\s+(?:No\.?\s*|nº\s*|n\.\s*)?{_NUMBER}(?!\d)"
)
_STREET_NO_NUMBER = rf"\b(?i:rue|calle|rua|ulica|ul\.|aleja|avenida|viale|travessa|praça)\s+{_NAME_FR}"

_POSTCODE = (
    r"(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"  # UK
    r"|[A-Z]\d[A-Z]\s?\d[A-Z]\d"  # Canada
    r"|\d{4}\s?[A-Z]{2}(?![a-z])"  # Netherlands
    r"|(?:[A-Z]{1,2}-)?\d{2,4}[\s-]?\d{3}|\d{3}\s\d{2}"  # split: 90-457, 1391-500, 490 74
    r"|\d{8}|\d{5}-\d{3}|\d{4,6}(?:-\d{4})?)"  # Brazil CEP, plain, US ZIP+4
)
_TOWN = rf"{_WORD}(?:[ \t-]+(?:{_PARTICLE}[ \t-]+)?{_WORD}){{0,3}}"
_LOCALITY = (
    rf"(?:{_POSTCODE},?[ \t]+{_TOWN}(?:[ \t]+\([A-Z]{{2}}\))?"  # 10115 Berlin, 13031, Arborio (VC)
    rf"|{_TOWN},?[ \t]+(?:[A-Z]{{2,3}},?[ \t]+)?{_POSTCODE}(?!\w)"  # Springfield, OR 97403
    rf"|{_TOWN}\s+\([A-Z]{{2}}\)|{_TOWN}[ \t]?-[ \t]?\d{{6}}(?!\d))"  # India: Pune-411001
)
_SEP = r"(?:\s*,\s*|\s*\n\s*|\s+[-/|]\s+|\s+)"
_STOP = frozenset({
    "thanks", "thank", "regards", "please", "best", "cheers", "hi", "hello", "dear", "i",
    "we", "my", "the", "and", "or", "but", "it", "this", "that", "call", "tel", "phone",
    "email", "mobile", "kind", "many", "sincerely", "yours", "if", "when", "not", "also",
    "what", "why", "how", "where", "who", "which", "can", "could", "is", "are", "do", "does",
    "will", "would", "should", "hey", "ok", "yes", "no", "i'm", "i’m", "i've", "i'd",
})

_STARTS = tuple(re.compile(p) for p in (
    rf"(?<![\w-]){_STREET_NUM_FIRST}",
    rf"(?<![\w-]){_STREET_NAME_FIRST}",
    rf"(?<![\w-]){_NAME},?[ \t]+{_NUMBER}(?=,?{_SEP}{_LOCALITY})",
    _STREET_NO_NUMBER,
    r"\b(?:P\.?\s?O\.?\s+Box|PO\s?Box|Post Office Box|Postfach|Apartado|Caixa Postal)\s+\d{1,6}",
))
_TAIL_PIECES = tuple(re.compile(p) for p in (
    _LOCALITY, _UNIT, rf"{_POSTCODE}(?!\w)", rf"{_TOWN}(?:\s+\([A-Z]{{2}}\))?",
    r"[A-Z]{2,3}(?!\w)",
))
_SEP_RE = re.compile(_SEP)
_LOCALITY_ALONE = re.compile(
    rf"(?<![\w-])(?:\d{{5}}|\d{{2}}-\d{{3}}|\d{{4}}-\d{{3}}|\d{{3}}\s\d{{2}}),?\s+{_TOWN}"
)


def street_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every street address, tails included; overlaps merged."""
    found = [(m.start(), _extend(text, m.end())) for p in _STARTS for m in p.finditer(text)]
    found += [m.span() for m in _LOCALITY_ALONE.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [(s, _strip_end(text, s, e)) for s, e in merged]


def _extend(text: str, end: int, pieces: int = 3) -> int:
    """Absorb units, postcode + town and place names after a street line."""
    for _ in range(pieces):
        sep = _SEP_RE.match(text, end)
        if sep is None or (text[end - 1] == "." and not sep.group().startswith(",")):
            break  # a full stop ends the address
        piece = _tail_piece(text, sep.end(), plain_space=sep.group().strip() == "")
        if piece is None:
            break
        end = piece
    return end


def _tail_piece(text: str, pos: int, *, plain_space: bool) -> int | None:
    for i, pattern in enumerate(_TAIL_PIECES):
        if plain_space and i >= 3:  # a bare following word is not part of the address
            return None
        match = pattern.match(text, pos)
        if match and match.end() > pos and _plausible(match.group()):
            return match.end()
    return None


def _plausible(piece: str) -> bool:
    first = re.split(r"[\s,]", piece.strip(), maxsplit=1)[0].lower().strip(".")
    return first not in _STOP


def _strip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " ,.\n\t-/|":
        end -= 1
    return end


class StreetAddressRecognizer(EntityRecognizer):
    """Street addresses as ``LOCATION`` spans (see the module docstring)."""

    SCORE = 0.75

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], name="StreetAddressRecognizer")

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import time."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if entities and "LOCATION" not in entities:
            return []
        return [RecognizerResult("LOCATION", s, e, self.SCORE) for s, e in self.spans(text)]

    @staticmethod
    def spans(text: str) -> Iterable[tuple[int, int]]:
        return street_spans(text)
