"""rescomp's command-line front end (installed as ``rescomp.cli``)."""
