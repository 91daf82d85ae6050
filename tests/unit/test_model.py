"""The rules of names and email addresses."""

import pytest

from users.domain.errors import InvalidEmail, InvalidName
from users.domain.model import Email, parse_name


def test_an_address_keeps_its_local_part_and_lower_cases_its_domain() -> None:
    email = Email.parse("  Bob.Smith@Example.COM ")

    assert email.address == "Bob.Smith@example.com"
    assert email.key == "bob.smith@example.com"


def test_addresses_differing_only_in_letter_case_share_a_key() -> None:
    assert Email.parse("Bob@Example.com").key == Email.parse("bOB@example.COM").key


@pytest.mark.parametrize(
    ("one", "other"),
    [("straße@example.com", "strasse@example.com"), ("ﬁle@example.com", "file@example.com")],
)
def test_addresses_that_only_full_case_folding_would_merge_are_two(one: str, other: str) -> None:
    assert Email.parse(one).key != Email.parse(other).key


def test_the_key_is_the_lower_case_mapping_with_greek_final_sigma() -> None:
    assert Email.parse("ΣΩΚΡΆΤΗΣ@example.gr").key == Email.parse("σωκράτης@example.gr").key


def test_a_local_part_may_have_64_characters_and_no_more() -> None:
    assert Email.parse("a" * 64 + "@example.com").address == "a" * 64 + "@example.com"
    with pytest.raises(InvalidEmail, match="too long before the @-sign"):
        Email.parse("a" * 65 + "@example.com")


def test_an_address_may_have_254_characters_and_no_more() -> None:
    def domain(length: int) -> str:
        return "b" * 63 + "." + "b" * 63 + "." + "b" * (length - 132) + ".com"

    longest = "a" * 64 + "@" + domain(189)

    assert len(Email.parse(longest).address) == 254
    with pytest.raises(InvalidEmail, match="too long"):
        Email.parse("a" * 64 + "@" + domain(190))


def test_an_internationalized_domain_is_normalized_to_unicode() -> None:
    assert Email.parse("a@xn--bcher-kva.ch").address == "a@bücher.ch"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
        "a@b",
        "a@localhost",
        "Name <a@example.com>",
        "nul\x00@example.com",
        "\ud800@example.com",
        "a b@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_an_invalid_address_is_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        Email.parse(raw)


def test_a_name_is_trimmed() -> None:
    assert parse_name("  Ada Lovelace\t") == "Ada Lovelace"


def test_a_name_may_have_a_hundred_characters_after_trimming() -> None:
    assert parse_name(" " + "x" * 100 + " ") == "x" * 100


@pytest.mark.parametrize(
    "raw", ["", "   ", "x" * 101, "a\x00b", "a\nb", "a\x7fb", "a\x85b", "\ud800"]
)
def test_an_invalid_name_is_refused(raw: str) -> None:
    with pytest.raises(InvalidName):
        parse_name(raw)
