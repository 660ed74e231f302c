"""Reports of ``recon evaluate``: the JSON/CSV documents, figures and a self-contained HTML page.

* ``documents``: ``metrics.json`` and ``metrics.csv`` (settings, definitions, versions, every number).
* ``provenance``: the run record (``{stem}.run.json``) that ``recon reconstruct`` wrote beside an image.
* ``views``: which slice, frame and line of a volume the figures show (plain NumPy).
* ``figures``: the figures as PNG (matplotlib, imported only when a figure is drawn).
* ``tables``: number formats, best-per-metric and the comparison table.
* ``html``: ``index.html`` with every figure embedded, readable offline.
"""
