"""Country names for messages: where sign-in codes can be texted, in the caller's language."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

# phonenumbers has no Uzbek names (it answers in English); the neighbours ovoz's users
# are likeliest to allow, in Uzbek.
_UZBEK = {
    "UZ": "Oʻzbekiston",
    "KZ": "Qozogʻiston",
    "KG": "Qirgʻiziston",
    "TJ": "Tojikiston",
    "TM": "Turkmaniston",
    "AF": "Afgʻoniston",
    "RU": "Rossiya",
    "TR": "Turkiya",
}


def country_name(region: str, locale: str) -> str:
    """``Oʻzbekiston (+998)``: the region's name in ``locale`` and its calling code."""
    calling_code = phonenumbers.country_code_for_region(region)
    name = _UZBEK.get(region) if locale == "uz" else None
    if name is None:
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        found = geocoder.country_name_for_number(example, locale) if example else ""
        name = found or region
    return f"{name} (+{calling_code})" if calling_code else name


def country_names(regions: tuple[str, ...], locale: str) -> str:
    """The regions' names, comma-separated, in ``locale``."""
    return ", ".join(country_name(region, locale) for region in regions)
