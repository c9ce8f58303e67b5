"""TaskFlow's database backends: Django's own, with what TaskFlow needs of them changed."""
