// The package ships no types: its single export parses Prometheus text exposition into families.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
