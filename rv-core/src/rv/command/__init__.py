"""Commands (ANALYZE, CHIP, TRAIN, PREDICT, EVAL, BUNDLE) and the command graph."""
