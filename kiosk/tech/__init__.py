"""The technician's commands at the kiosk: ``yichuang-kiosk doctor`` (check the configuration
and every device, say what to do about each failure) and ``yichuang-kiosk setup`` (find what
is attached, try each device, write a commented ``kiosk.toml``). See ``docs/technicians.md``.

* :mod:`.findings` — one check's result (pass / warn / fail / skip) with the registry's words;
* :mod:`.configcheck` — every problem of a ``kiosk.toml`` at once, and what is left usable;
* :mod:`.checks` — the device and server checks; :mod:`.doctor` runs them and renders them;
* :mod:`.discover` — serial ports, USB printers, cameras, a network printer;
* :mod:`.termimage` — a camera frame as ANSI art (brightness check; nothing saved);
* :mod:`.face` — the adapter to the face pipeline for the face-size check;
* :mod:`.setup` and :mod:`.tomlwriter` — the set-up dialogue and the file it writes;
* :mod:`.cli` — the click commands.
"""
