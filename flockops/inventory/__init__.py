"""Ansible-compatible inventories: YAML and INI files, group_vars/ and host_vars/, host ranges, limits.

An inventory that works with ``ansible-inventory -i FILE`` works here unchanged, and gives the same
hosts, groups and variables: ``Inventory.to_list_json()`` prints what ``ansible-inventory --list``
prints, except that secrets are masked. The rules follow ansible-core 2.19, read from its source:

- ``plugins/inventory/yaml.py`` and ``ini.py``: the two file formats (:mod:`.yaml_reader`, imported
  only when a YAML file is read, and :mod:`.ini`);
- ``plugins/inventory/__init__.py``: ``expand_hostname_range`` (:mod:`.ranges`);
- ``inventory/data.py`` and ``group.py``: the implicit ``all`` and ``ungrouped`` groups, group depth
  (:mod:`.builder`);
- ``vars/manager.py``, ``inventory/helpers.py`` and ``plugins/vars/host_group_vars.py``: which variable
  wins, and which group_vars/host_vars files are read (:mod:`.builder`, :mod:`.loader`);
- ``inventory/manager.py`` and ``parsing/utils/addresses.py``: ``-l/--limit`` patterns (:mod:`.limit`).

Everything is read and checked in :func:`flockops.inventory.loader.load_inventory`, before any host is
contacted: a structural fault raises ``InventoryError`` naming file, line and key; a harmless oddity
becomes a warning in ``Inventory.warnings`` (the CLI prints them to stderr). The model is
:mod:`.model`; what is a secret and how it is kept out of output, :mod:`.secrets`.
"""
