"""medzoo-densenet: DenseNet121 trained from scratch on grayscale chest X-rays."""
