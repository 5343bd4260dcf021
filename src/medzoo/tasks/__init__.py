"""Built-in tasks: :mod:`~medzoo.tasks.classification` and :mod:`~medzoo.tasks.segmentation`."""
