"""The data the server answers from: the model, the loaded spaces, the live overlay, ids.

``model`` (profiles and their items, each part serialised when first read), ``space``
(immutable loaded spaces), ``overlay`` (what a reset drops), ``ids`` (deterministic
Segment-style ids).
"""
