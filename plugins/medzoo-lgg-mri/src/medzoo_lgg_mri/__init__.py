"""medzoo-lgg-mri: reads the LGG FLAIR segmentation set in its ``kaggle_3m`` layout."""
