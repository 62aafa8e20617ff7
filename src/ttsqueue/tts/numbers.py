"""Numbers as English words: cardinals, ordinals, years, digits."""

from __future__ import annotations

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
MAX_CARDINAL = 10**15 - 1
_MAX_DIGITS = len(str(MAX_CARDINAL))


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts: list[str] = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        parts.append(_ONES[rest])
    return " ".join(parts)


def cardinal(n: int) -> str:
    """``1234`` -> ``one thousand two hundred thirty-four``; very large numbers digit by digit."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n < 1000:
        return _below_thousand(n)
    parts: list[str] = []
    for scale, word in _SCALES:
        if n >= scale:
            count, n = divmod(n, scale)
            parts.append(f"{_below_thousand(count)} {word}")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def value(text: str) -> int | None:
    """The value of a run of digits (commas allowed) small enough to read as a number,
    else None. Never converts a long run: int() of thousands of digits is slow (and
    refused past Python's conversion limit)."""
    significant = text.replace(",", "").lstrip("0")
    if len(significant) > _MAX_DIGITS:
        return None
    return int(significant or "0")


def cardinal_of(text: str) -> str:
    """A run of digits as words: ``"1,234"`` -> ``one thousand two hundred thirty-four``;
    a run too long to be read as a number is read digit by digit."""
    n = value(text)
    return digits(text) if n is None else cardinal(n)


def ordinal_of(text: str) -> str:
    """A run of digits as an ordinal; a run too long for a number reads its digits and
    ends with the last one as an ordinal (``... nine third``)."""
    n = value(text)
    if n is not None:
        return ordinal(n)
    head = text.rstrip(",")
    return f"{digits(head[:-1])} {ordinal(int(head[-1]))}"


def ordinal(n: int) -> str:
    """``3`` -> ``third``, ``21`` -> ``twenty-first``, ``100`` -> ``one hundredth``."""
    words = cardinal(n)
    head, sep, last = (
        words.rpartition("-") if "-" in words.split(" ")[-1] else (words.rpartition(" "))
    )
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def digits(text: str) -> str:
    """Read each digit: ``"0314"`` -> ``zero three one four``."""
    return " ".join(_ONES[int(ch)] for ch in text if ch.isdecimal())


def year(n: int) -> str:
    """A year read the usual way: 1984 nineteen eighty-four, 1900 nineteen hundred,
    1905 nineteen oh five, 2000 two thousand, 2007 two thousand seven, 2024 twenty
    twenty-four."""
    if not 1000 <= n <= 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if 2000 <= n <= 2009 or n % 1000 == 0:
        return cardinal(n)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {_ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def plural(words: str) -> str:
    """``nineteen eighty`` -> ``nineteen eighties`` (for decades such as 1980s)."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def roman_to_int(text: str) -> int | None:
    """The value of a well-formed Roman numeral (I..MMMCMXCIX), else None."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    s = text.upper()
    if not s or any(ch not in values for ch in s):
        return None
    total = 0
    for i, ch in enumerate(s):
        v = values[ch]
        total += -v if i + 1 < len(s) and values[s[i + 1]] > v else v
    return total if 0 < total < 4000 and int_to_roman(total) == s else None


def int_to_roman(n: int) -> str:
    table = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )  # fmt: skip
    out = []
    for value, letters in table:
        count, n = divmod(n, value)
        out.append(letters * count)
    return "".join(out)
