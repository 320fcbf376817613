//! Tracing set-up: JSON lines in production, readable lines on a terminal, and optionally an
//! OTLP/HTTP exporter for spans. The filter comes from `RUST_LOG` (default `info`). Tokens,
//! passwords and request bodies are never logged anywhere in Tessera; spans carry method, route
//! and status only.
//!
//! W3C trace context crosses process boundaries twice: an incoming `traceparent` header parents
//! the request span, and each event's envelope carries the `traceparent` of the span that
//! caused it.

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Keeps the span exporter alive; dropping it flushes what is buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "span exporter did not flush");
        }
    }
}

/// Installs the global subscriber once; later calls (tests, several services in one process)
/// leave the first one in place.
pub fn init(format: LogFormat) {
    drop(init_with(format, None));
}

/// Installs the global subscriber, exporting spans over OTLP/HTTP to `otlp_endpoint` (for
/// example `http://collector:4318`) when given.
pub fn init_with(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let fmt = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    };
    let provider = match otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                .build()
                .context("cannot build the OTLP exporter")?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name("tessera")
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
        None => None,
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("tessera")));
    // Already installed: keep the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(Telemetry { provider })
}

struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// Parents `span` on the `traceparent` of an incoming request, if it has one.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(parent);
    }
}

struct Carrier(HashMap<String, String>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The W3C `traceparent` of the current span, when spans are being recorded.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = Carrier(HashMap::new());
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.0.remove("traceparent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_recorded_spans_there_is_no_traceparent() {
        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn an_incoming_traceparent_parents_the_request_span() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    .parse()
                    .expect("header"),
            );
            let span = tracing::info_span!("request");
            continue_trace(&span, &headers);
            let _entered = span.enter();
            let child = current_traceparent().expect("a traceparent inside a recorded span");
            assert!(
                child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "{child}"
            );
        });
    }
}
