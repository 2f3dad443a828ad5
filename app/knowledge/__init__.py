"""The knowledge base's rules: text segmentation for search, Markdown rendering, canned-response variables."""
