"""medzoo-chest-xray: reads the pediatric chest X-ray pneumonia set (Kermany et al.) in its published layout."""
