"""medzoo-transfer: ImageNet-pretrained backbones with a pneumonia head (resnet152-tl, densenet161-tl)."""
