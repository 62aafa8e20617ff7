"""Adversarial inputs of any size for each parser, and EPUB files built around them."""

from __future__ import annotations

import io
import zipfile

CONTAINER = (
    '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="c.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def opf(manifest: str, spine: str) -> str:
    return (
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        "<metadata><title>T</title></metadata>"
        f"<manifest>{manifest}</manifest><spine>{spine}</spine></package>"
    )


def item(i: int, props: str = "") -> str:
    extra = f' properties="{props}"' if props else ""
    return f'<item id="d{i}" href="d{i}.xhtml" media-type="application/xhtml+xml"{extra}/>'


def epub(files: dict[str, str | bytes], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", CONTAINER)
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def one_document(body: str) -> bytes:
    """An EPUB whose single document has ``body`` as its XHTML."""
    return epub({"c.opf": opf(item(0), '<itemref idref="d0"/>'), "d0.xhtml": body})


def many_documents(n: int) -> bytes:
    """A spine of ``n`` short documents."""
    manifest = "".join(item(i) for i in range(n))
    spine = "".join(f'<itemref idref="d{i}"/>' for i in range(n))
    files: dict[str, str | bytes] = {"c.opf": opf(manifest, spine)}
    files.update({f"d{i}.xhtml": f"<p>Part {i}.</p>" for i in range(n)})
    return epub(files)


def long_toc(n: int) -> bytes:
    """One document and a navigation document with ``n`` entries pointing into it."""
    links = "".join(f'<li><a href="d0.xhtml#a{i}">Part {i}</a></li>' for i in range(n))
    nav = f"<html><body><nav><ol>{links}</ol></nav></body></html>"
    body = "".join(f'<p id="a{i}">Text {i}.</p>' for i in range(n))
    manifest = (
        item(0) + '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml"'
        ' properties="nav"/>'
    )
    return epub(
        {"c.opf": opf(manifest, '<itemref idref="d0"/>'), "nav.xhtml": nav, "d0.xhtml": body}
    )


def nested_ncx(n: int) -> bytes:
    """An NCX of ``n`` navPoints, nested 50 deep over and over (within the depth limit)."""
    point = '<navPoint><navLabel><text>P</text></navLabel><content src="d0.xhtml"/>'
    chunks = []
    for _ in range(n // 50):
        chunks.append(point * 50 + "</navPoint>" * 50)
    ncx = f"<ncx><navMap>{''.join(chunks)}</navMap></ncx>"
    manifest = item(0) + '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
    return epub(
        {"c.opf": opf(manifest, '<itemref idref="d0"/>'), "toc.ncx": ncx, "d0.xhtml": "<p>x</p>"}
    )


def many_files(n: int) -> bytes:
    """One document and ``n`` other (empty) files in the archive."""
    files: dict[str, str | bytes] = {
        "c.opf": opf(item(0), '<itemref idref="d0"/>'),
        "d0.xhtml": "<p>x</p>",
    }
    files.update({f"x/{i}": b"" for i in range(n)})
    return epub(files, stored=True)


def repeated_spine(n: int) -> bytes:
    """The same document named ``n`` times in the spine (refused at the second)."""
    return epub({"c.opf": opf(item(0), '<itemref idref="d0"/>' * n), "d0.xhtml": "<p>x</p>"})


def deep_opf(n: int) -> bytes:
    """A package document nested ``n`` deep (refused past the depth limit)."""
    return epub({"c.opf": "<a>" * n + "</a>" * n})
