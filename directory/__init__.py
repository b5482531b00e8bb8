"""The professional directory: who is behind an address, their profession, where they work, their certificates.

Public entry points: :class:`directory.resolve.Resolver` (``await resolver.resolve(address) -> Owner | None``,
for the gateway and the patient inbox), :func:`directory.search.search` and :func:`directory.search.lookup`,
:func:`directory.importer.import_file`, :func:`directory.generator.generate`, the routers
``directory.api.router`` (JSON) and ``directory.fhir_api.router`` (FHIR R4). See ``docs/directory.md``.
"""
