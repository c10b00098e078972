"""For you: a personal feed learned from each reader's signals (upvotes, saved papers,
approved claims, seeds; "not interested" and papers seen and skipped as negatives), over the
stored paper embeddings. Models are derived data, rebuilt from the signals at any time.

- ``gather.py``: one reader's signals and their fingerprint;
- ``candidates.py``: the embeddings in memory, by publication day;
- ``model.py``: the linear model; ``train.py``: which method, training, the trainers;
- ``service.py``: :func:`recommend`, what the upper layers call."""
