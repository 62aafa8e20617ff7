"""A small EPUB 3 (with an EPUB 2 toc.ncx too) built in memory for the tests."""

from __future__ import annotations

import io
import zipfile

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>"""

OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1234</dc:identifier>
    <dc:title>The Lighthouse</dc:title>
    <dc:creator>Ann Writer</dc:creator>
    <dc:creator>Bo Second</dc:creator>
    <dc:language>en</dc:language>
    <meta name="cover" content="cover-img"/>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover-img" href="images/cover.png" media-type="image/png" {cover_props}/>
    <item id="css" href="style.css" media-type="text/css"/>
    <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/ch%202.xhtml" media-type="application/xhtml+xml"/>
    <item id="c3" href="text/ch3.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine toc="ncx">
    <itemref idref="nav" linear="no"/>
    <itemref idref="c1"/>
    <itemref idref="c2"/>
    <itemref idref="c3"/>
  </spine>
</package>"""

NAV = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body>
  <nav epub:type="toc"><h1>Contents</h1><ol>
    <li><a href="text/ch1.xhtml">Chapter 1: The Storm</a></li>
    <li><a href="text/ch%202.xhtml#start">Chapter 2: <em>Calm</em></a></li>
    <li><a href="text/ch3.xhtml">Epilogue</a></li>
  </ol></nav>
  <nav epub:type="landmarks"><ol><li><a href="text/ch3.xhtml">Not a chapter</a></li></ol></nav>
</body></html>"""

NCX = """<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
  <navMap>
    <navPoint id="p1" playOrder="1"><navLabel><text>NCX One</text></navLabel>
      <content src="text/ch1.xhtml"/></navPoint>
    <navPoint id="p2" playOrder="2"><navLabel><text>NCX Two</text></navLabel>
      <content src="text/ch%202.xhtml#start"/></navPoint>
    <navPoint id="p3" playOrder="3"><navLabel><text>NCX Three</text></navLabel>
      <content src="text/ch3.xhtml"/></navPoint>
  </navMap>
</ncx>"""


def chapter(body: str, title: str = "ignored") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>{title}</title><style>p {{ color: red; }}</style>
<script>var hidden = "never read";</script></head>
<body>{body}</body></html>"""


CH1 = chapter(
    "<h1>One</h1><p>The wind   rose,\n then <b>fell</b>.</p>"
    "<p>Caf&eacute; &amp; tea.<br/>A new line.</p><script>alert(1)</script>"
)
CH2 = chapter(
    '<p>Front matter in the same file.</p><h2 id="start">Two</h2><div><p>Calm sea.</p></div>'
)
CH3 = chapter("<section><h1>The End</h1><ul><li>one</li><li>two</li></ul></section>")


def build_epub(
    *,
    nav: str | None = NAV,
    ncx: str | None = NCX,
    cover_props: str = 'properties="cover-image"',
    chapters: tuple[str, str, str] = (CH1, CH2, CH3),
    drop: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> bytes:
    files = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": OPF.format(cover_props=cover_props),
        "OEBPS/style.css": "p { margin: 0 }",
        "OEBPS/text/ch1.xhtml": chapters[0],
        "OEBPS/text/ch 2.xhtml": chapters[1],
        "OEBPS/text/ch3.xhtml": chapters[2],
        **(extra or {}),
    }
    if nav is not None:
        files["OEBPS/nav.xhtml"] = nav
    if ncx is not None:
        files["OEBPS/toc.ncx"] = ncx
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, text in files.items():
            if name not in drop:
                archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/images/cover.png", PNG)
    return buffer.getvalue()
