"""Learners built on the :mod:`metarl` core: MAML-TRPO and its comparison learners."""
