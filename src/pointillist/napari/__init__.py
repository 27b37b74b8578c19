"""pointillist in napari: widgets, a reader and sample data, declared by ``napari.yaml`` (npe2).

Install with ``pip install 'pointillist[napari]'``; the core package never imports Qt or napari. The widgets
take their options from the command line's parsers (:mod:`pointillist.napari.options`), run the same code
as the commands in a worker thread, and add their results as layers in nm that overlay the input
(:mod:`pointillist.napari.layers`).
"""
