"""medzoo-hello-task: the ``regression`` task of the plugin tutorial."""
