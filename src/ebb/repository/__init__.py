"""A model repository: several models, each with versions, loaded and unloaded while serving.

``layout`` reads a directory (``DIR/<model>/<version>/<file>`` and an optional
``config.toml``, parsed by ``config``) into plans; ``manager.ModelRepository`` serves them, one
queue and worker pool per version, routed by ``dispatcher.RepositoryDispatcher``;
``statistics`` counts what each version did for the statistics extension.
"""
