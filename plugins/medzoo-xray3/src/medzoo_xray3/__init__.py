"""medzoo-xray3: the ``multiclass`` task, a three-class view of the chest X-ray set and the ``cnn1-xray3`` entry.

It is the proof that tasks are plugins: nothing in medzoo's core knows about ``multiclass``. It reuses the chest
X-ray reader (:mod:`medzoo_chest_xray`) for the files and patients, and CNN1 (:mod:`medzoo_cnn`) for the network.
"""
