"""The quantizer checks behind the pytest plugin: options, running a quantizer, well-formedness, prepare,
numerics, random graphs; the small models and the ready-made quantizer factories."""
