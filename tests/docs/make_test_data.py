#!/usr/bin/env python3
"""Writes the small mixed corpus under tests/docs/data used by the docs/knowledge tests.

PDF is made with reportlab, DOCX with python-docx (both from PyPI, independent of Helix); the
text, Markdown, HTML and Chinese files are written as they are. The damaged files are a PDF cut
short and a .docx that is no zip. Run from anywhere: python3 tests/docs/make_test_data.py
"""
import pathlib

import docx
import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

OUT = pathlib.Path(__file__).resolve().parent / "data"

TOMATOES_MD = """# Growing Tomatoes

Tomatoes need at least eight hours of direct sunlight every day. Plant them after the last frost,
when the soil has warmed to sixteen degrees.

## Watering

Water deeply twice a week rather than a little every day. Uneven watering causes blossom end rot,
a dark sunken patch at the bottom of the fruit.

- Water the soil, not the leaves.
- Mulch with straw to keep moisture in.
- Never let the pots dry out completely.

## Varieties

| Variety | Days to harvest | Use |
|---------|-----------------|-----|
| Roma | 75 | sauce |
| Cherokee Purple | 80 | slicing |
| Sungold | 65 | snacking |

## Pruning

Remove the suckers that grow between the main stem and a branch.

```
suckers = [s for s in plant.shoots if s.between_stem_and_branch]
for s in suckers: s.pinch()
```
"""

BREAD_HTML = """<!DOCTYPE html>
<html><head><title>Sourdough Basics</title><style>body { color: red; }</style>
<script>var ignored = "this script text must not be indexed";</script></head>
<body>
<h1>Sourdough Bread</h1>
<p>A sourdough starter is a culture of wild yeast and lactic acid bacteria. Feed it flour and
water every day and keep it at room temperature.</p>
<h2>Hydration</h2>
<p>Hydration is the weight of water divided by the weight of flour. A dough at <b>seventy-five
percent</b> hydration is sticky but gives an open crumb.</p>
<ul><li>Use bread flour with twelve percent protein.</li><li>Salt is two percent of the flour weight.</li></ul>
<h2>Baking</h2>
<p>Bake in a preheated Dutch oven at two hundred and fifty degrees for twenty minutes with the lid on,
then twenty minutes more with the lid off.</p>
<table><tr><th>Stage</th><th>Time</th></tr><tr><td>Bulk fermentation</td><td>5 hours</td></tr>
<tr><td>Cold proof</td><td>12 hours</td></tr></table>
<pre>levain = 100 g
water  = 375 g</pre>
</body></html>
"""

COFFEE_TXT = """Brewing Coffee at Home

A good ratio for filter coffee is sixty grams of ground coffee per litre of water. Grind the beans
just before brewing, medium fine for a pour-over and coarse for a French press.

Water just off the boil, around ninety-three degrees, extracts the flavour best. Water that is too
hot makes the coffee bitter; water that is too cold makes it sour.

An espresso machine forces water through finely ground coffee at nine bars of pressure. A double
shot uses eighteen grams of coffee and takes about twenty-eight seconds.
"""

TEA_ZH = """中国茶

绿茶是不发酵的茶，龙井和碧螺春是最有名的绿茶。冲泡绿茶的水温应该在八十度左右，水太热会把茶叶烫坏。

乌龙茶是半发酵的茶，主要产自福建和台湾。铁观音是一种乌龙茶，香气浓郁，可以冲泡七次以上。

普洱茶产自云南，是一种后发酵的茶。普洱茶可以存放很多年，存放越久，味道越醇厚。喝普洱茶的时候，先用沸水洗茶，再正式冲泡。
"""


def make_pdf(path):
    styles = getSampleStyleSheet()
    story = [
        Paragraph("Bicycle Maintenance", styles["Title"]),
        Paragraph("Tyres", styles["Heading1"]),
        Paragraph("Check the tyre pressure every week. Road tyres run at six to eight bar, mountain bike "
                  "tyres at two bar. A tyre with too little pressure gets pinch flats on sharp edges.",
                  styles["BodyText"]),
        Spacer(1, 12),
        Paragraph("To fix a puncture, remove the wheel, lever the tyre off the rim and find the hole by "
                  "pumping up the inner tube and listening for the hiss.", styles["BodyText"]),
        PageBreak(),
        Paragraph("Chain", styles["Heading1"]),
        Paragraph("Clean and lubricate the chain every three hundred kilometres. A chain stretched by more "
                  "than half a percent wears out the cassette and must be replaced.", styles["BodyText"]),
        Paragraph("Brakes", styles["Heading1"]),
        Paragraph("Replace rim brake pads when the grooves are gone. Disc brake pads need replacing when "
                  "less than one millimetre of material is left.", styles["BodyText"]),
    ]
    doc = SimpleDocTemplate(str(path), pagesize=A4, title="Bicycle Maintenance", invariant=1)
    doc.build(story)


def make_docx(path):
    d = docx.Document()
    d.core_properties.title = "Amateur Astronomy"
    d.add_heading("Amateur Astronomy", level=0)
    d.add_heading("Telescopes", level=1)
    d.add_paragraph("A refractor uses lenses and a reflector uses mirrors. The aperture, the diameter of "
                    "the main lens or mirror, decides how faint an object you can see.")
    d.add_paragraph("Start with a Dobsonian reflector of two hundred millimetres.", style="List Bullet")
    d.add_paragraph("Let the telescope cool outside for half an hour before observing.", style="List Bullet")
    d.add_heading("Planets", level=1)
    d.add_paragraph("Jupiter shows four bright moons even in small binoculars. Saturn's rings are visible "
                    "at a magnification of thirty times.")
    t = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Planet", "Best eyepiece"), ("Jupiter", "10 mm"), ("Saturn", "6 mm")]):
        t.cell(r, 0).text, t.cell(r, 1).text = a, b
    d.save(str(path))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tomatoes.md").write_text(TOMATOES_MD, encoding="utf-8")
    (OUT / "bread.html").write_text(BREAD_HTML, encoding="utf-8")
    (OUT / "coffee.txt").write_text(COFFEE_TXT, encoding="utf-8")
    (OUT / "tea_zh.txt").write_text(TEA_ZH, encoding="utf-8")
    make_pdf(OUT / "bicycle.pdf")
    make_docx(OUT / "astronomy.docx")
    pdf = (OUT / "bicycle.pdf").read_bytes()
    (OUT / "broken.pdf").write_bytes(pdf[: len(pdf) // 3])  # cut short: no xref, no trailer
    (OUT / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive " * 4)
    (OUT / "VERSIONS").write_text(f"reportlab {reportlab.Version}\npython-docx {docx.__version__ if hasattr(docx, '__version__') else 'unknown'}\n")


if __name__ == "__main__":
    main()
