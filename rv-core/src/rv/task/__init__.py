"""Tasks: what is predicted (chip classes, boxes, per-pixel classes)."""
