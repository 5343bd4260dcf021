"""medzoo-cnn: the custom CNNs of the study (cnn1, cnn2, cnn3)."""
