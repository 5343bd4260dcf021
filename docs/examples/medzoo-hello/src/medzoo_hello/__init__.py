"""medzoo-hello: the example plugin of the medzoo tutorial (``hello-cnn`` and ``hello-chest-xray``)."""
