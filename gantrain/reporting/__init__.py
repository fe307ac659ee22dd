"""`gantrain report`: tables and curves of a run or of a sweep's runs."""
