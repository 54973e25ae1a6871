"""The file store: where files the worker makes (report exports) are kept (DESIGN §1).

``store.FileStore`` is the interface everyone uses, ``registry.open_file_store(settings)``
opens the one ``TALLYBOOK_FILES_URL`` names; each kind of storage is one module, chosen by the
URL's scheme in ``registry.STORES``.
"""
