"""Reading an upstream's body under a size limit: sizes, and the advice on raising it."""

from __future__ import annotations

import re

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from profilemock.contract.upstream import MOST_BODY, BodyTooLarge, parse_size, upstream_failure
from profilemock.words import counted

NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


@pytest.mark.parametrize("given_size", ["1.7", "1.0001KB", "1.5", "2.25", "0.0001MiB"])
def test_a_size_that_is_not_a_whole_number_of_bytes_is_refused_saying_so(
    given_size: str,
) -> None:
    with pytest.raises(ValueError, match="is not a size from 1 byte to 10GB") as refused:
        parse_size(given_size)
    assert "(a whole number of bytes; it is " in str(refused.value)


def test_a_fraction_of_a_byte_is_named_with_what_it_comes_to() -> None:
    with pytest.raises(ValueError, match="whole number") as refused:
        parse_size("1.7")
    assert str(refused.value) == (
        "`1.7` is not a size from 1 byte to 10GB, such as 64MB, 500KB, 64MiB or 1000000"
        " (a whole number of bytes; it is 1.7 bytes)"
    )


@pytest.mark.parametrize(
    ("given_size", "size"), [("1.5KB", 1500), ("1.5MiB", 1572864), ("0.5KB", 500)]
)
def test_a_decimal_that_comes_to_whole_bytes_is_read(given_size: str, size: int) -> None:
    assert parse_size(given_size) == size


ADVICE = re.compile(r"--max-body (\S+)$")


@given(
    limit=st.integers(1, MOST_BODY),
    declared=st.none() | st.integers(1, 10 * MOST_BODY),
)
def test_the_advice_to_raise_the_limit_is_always_a_size_the_flag_takes(
    limit: int, declared: int | None
) -> None:
    if declared is not None and declared <= limit:
        declared = limit + 1
    message = BodyTooLarge(limit, declared, 200, NO_HEADERS).about()
    advice = ADVICE.search(message)
    if advice is None:
        assert message.endswith("--max-body takes 10GB at most, so no setting passes it")
        assert limit == MOST_BODY or (declared or 0) > MOST_BODY
    else:
        assert parse_size(advice.group(1)) > limit
        if declared is not None:
            assert parse_size(advice.group(1)) >= declared


def test_a_body_no_setting_can_pass_says_so() -> None:
    message = BodyTooLarge(32_000_000, 20 * 10**9, 200, NO_HEADERS).about()
    assert message == (
        "the body is 20,000,000,000 bytes (its Content-Length), over the --max-body limit of"
        " 32,000,000 bytes; --max-body takes 10GB at most, so no setting passes it"
    )


def test_a_limit_of_one_byte_is_one_byte() -> None:
    assert counted(1, "byte") == "1 byte"
    assert counted(32_000_000, "byte") == "32,000,000 bytes"
    assert (
        "limit of 1 byte (reading stopped there)" in BodyTooLarge(1, None, 200, NO_HEADERS).about()
    )


def test_a_content_coding_the_client_cannot_decode_is_told_so() -> None:
    # aiohttp without Brotli, given `Content-Encoding: br` it never asked for; it said
    # "answered something that is not well-formed HTTP".
    info = aiohttp.RequestInfo(URL("http://upstream/v1/x"), "GET", CIMultiDictProxy(CIMultiDict()))
    refused = aiohttp.ClientResponseError(
        info,
        (),
        status=400,
        message="Can not decode content-encoding: brotli (br). Please install `Brotli`",
    )
    assert upstream_failure(refused) == (
        "answered a body in a Content-Encoding it was not asked for (br)"
    )
