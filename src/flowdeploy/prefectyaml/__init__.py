"""prefect.yaml, one section per module, read as ``prefect deploy`` (Prefect 3.9.1) reads it.

``flowdeploy.project`` is the public face (``load_project``); the rules live here:

- ``model``         DeploymentSpec, Project, Lookups: what a load gives and needs
- ``context``       the inputs of one load and the problems found so far, each at file:line
- ``keys``          the keys each section takes; what an unknown one means to Prefect
- ``own``           flowdeploy's own ``flowdeploy:`` settings
- ``selection``     which entries of ``deployments`` are loaded (``--name``, nameless ones)
- ``steps``         build / push / pull steps: which apply, which are not run, their outputs
- ``placeholders``  ``{{ … }}`` from blocks, variables and the environment; unresolved ones
- ``schedules``     ``schedules:`` and the legacy ``schedule:``
- ``triggers``      ``triggers:``
- ``concurrency``   ``concurrency_limit:``
- ``work_pool``     ``work_pool:``
- ``deployment``    one entry, assembled from the sections above
"""
