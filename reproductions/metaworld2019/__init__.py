"""MAML-TRPO on Meta-World ML1 with the settings of Yu et al. 2019 (Meta-World, CoRL 2019, arXiv:1910.10897v2,
App. D.7, Table 9): presets with their sources (:mod:`.presets`) and a train-and-evaluate driver (:mod:`.train`)."""
