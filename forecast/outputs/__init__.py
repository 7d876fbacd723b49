"""What users read: bands off paths, tables (CSV, JSON, terminal), the XLSX workbook and charts."""
