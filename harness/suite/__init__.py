"""The quantizer checks behind the pytest plugin, one module per job: options and budgets (``options``), loading
the quantizer (``source``), results (``results``), running it (``annotate``, ``structure``), the checks
(``well_formed``, ``prepare``, ``numerics``, ``model_checks``, ``graph_checks``, ``random_graphs``), what a
quantizer claims (``claims``), the list of tests and their dispatch (``checks``), reports (``render``, ``report``);
the small models (``models``) and the ready-made quantizer factories (``quantizers``)."""
