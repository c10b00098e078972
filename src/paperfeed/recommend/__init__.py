"""For you: a personal feed learned from each reader's signals (upvotes, saved papers,
approved claims, seeds; "not interested" and papers seen and skipped as negatives), over the
stored paper embeddings. Models are derived data, rebuilt from the signals at any time."""
