"""The page layer: everything `app.py` draws, and the only package besides `app.py` that imports Streamlit.

The library (`denoiser.data`, `noise`, `models`, `train`, `evaluate`, `metrics`, `storage`,
`inference`, `classifier`, `preprocessing`, `cli`) never imports Streamlit; tests reach the
pure parts of this package (catalog, uploads, sweep, panels, charts) without a page.
"""
