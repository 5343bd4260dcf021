"""medzoo-unet: the U-Net of the study (``unet``) and its zoo entry ``unet-lgg``."""
