//! Reading routing files: multi-document YAML, dispatched on `kind`, with
//! errors that name the file, the document and the field.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::model::{DestinationRule, HttpRouteObject, VirtualService};

/// One routing object read from a file.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Object {
    VirtualService(VirtualService),
    DestinationRule(DestinationRule),
    HttpRoute(HttpRouteObject),
}

impl Object {
    fn metadata_mut(&mut self) -> &mut crate::model::Metadata {
        match self {
            Self::VirtualService(o) => &mut o.metadata,
            Self::DestinationRule(o) => &mut o.metadata,
            Self::HttpRoute(o) => &mut o.metadata,
        }
    }

    /// `Kind/name`, the identity a later file replaces.
    pub fn key(&self) -> String {
        match self {
            Self::VirtualService(o) => format!("VirtualService/{}", o.metadata.name),
            Self::DestinationRule(o) => format!("DestinationRule/{}", o.metadata.name),
            Self::HttpRoute(o) => format!("HTTPRoute/{}", o.metadata.name),
        }
    }
}

/// What a file held: the objects the data plane uses, and notes about the
/// documents it deliberately does not use (never silently dropped).
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct LoadError {
    pub origin: String,
    pub message: String,
}

/// Kinds that configure ingress or egress, not routing between the services;
/// on one machine there is nothing for them to do.
const NOT_ROUTING: [&str; 3] = ["Gateway", "ServiceEntry", "GatewayClass"];

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
}

pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        origin: origin.clone(),
        message: format!("cannot read: {e}"),
    })?;
    load_str(&origin, &text)
}

pub fn load_str(origin: &str, text: &str) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let at = format!("{origin}, document {}", index + 1);
        let value = serde_norway::Value::deserialize(document).map_err(|e| LoadError {
            origin: at.clone(),
            message: format!("not valid YAML: {e}"),
        })?;
        match read_document(&at, value)? {
            Document::Empty => {}
            Document::Routing(object) => loaded.objects.push(*object),
            Document::NotRouting(note) => loaded.notes.push(note),
            Document::Other { api_version, kind } => {
                return Err(LoadError {
                    origin: at,
                    message: format!(
                        "{api_version} {kind} is not a routing object the local data plane supports \
                         (VirtualService, DestinationRule, HTTPRoute)"
                    ),
                });
            }
        }
    }
    Ok(loaded)
}

/// What one YAML document is to the data plane.
#[derive(Debug)]
pub enum Document {
    /// Nothing (e.g. after a trailing `---`).
    Empty,
    /// A routing object, read with the typed model (boxed: objects are large).
    Routing(Box<Object>),
    /// An ingress or egress object, with the note saying it is not used here.
    NotRouting(String),
    /// A Kubernetes object of another kind (a Service, a Deployment, ...).
    Other { api_version: String, kind: String },
}

/// Reads one document, `at` naming it in errors: routing objects are typed
/// (unknown fields are errors), anything else is only recognised. The data
/// plane and `bookinfo lint` both read Istio YAML through here.
pub fn read_document(at: &str, value: serde_norway::Value) -> Result<Document, LoadError> {
    let fail = |message: String| LoadError {
        origin: at.to_owned(),
        message,
    };
    if value.is_null() {
        return Ok(Document::Empty);
    }
    let header: Header = serde_norway::from_value(value.clone()).map_err(|_| {
        fail("not a Kubernetes object (apiVersion and kind must be strings)".into())
    })?;
    let (Some(api_version), Some(kind)) = (header.api_version, header.kind) else {
        return Err(fail(
            "not a Kubernetes object: apiVersion and kind are required".into(),
        ));
    };
    let group = api_version.split('/').next().unwrap_or_default();
    let object = match (group, kind.as_str()) {
        ("networking.istio.io", "VirtualService") => {
            Object::VirtualService(typed(value, &kind).map_err(fail)?)
        }
        ("networking.istio.io", "DestinationRule") => {
            Object::DestinationRule(typed(value, &kind).map_err(fail)?)
        }
        ("gateway.networking.k8s.io", "HTTPRoute") => {
            Object::HttpRoute(typed(value, &kind).map_err(fail)?)
        }
        (_, kind) if NOT_ROUTING.contains(&kind) => {
            return Ok(Document::NotRouting(format!(
                "{at}: {kind} is not used by the local data plane (no ingress or egress here)"
            )));
        }
        _ => return Ok(Document::Other { api_version, kind }),
    };
    if let Object::VirtualService(vs) = &object {
        check_api_version(&vs.api_version).map_err(fail)?;
    }
    let mut object = object;
    object.metadata_mut().origin = Some(at.to_owned());
    Ok(Document::Routing(Box::new(object)))
}

fn check_api_version(api_version: &str) -> Result<(), String> {
    match api_version {
        "networking.istio.io/v1"
        | "networking.istio.io/v1beta1"
        | "networking.istio.io/v1alpha3" => Ok(()),
        other => Err(format!("unknown apiVersion {other}")),
    }
}

/// Deserializes with the path of the offending field in the message.
fn typed<T: DeserializeOwned>(value: serde_norway::Value, kind: &str) -> Result<T, String> {
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("<unnamed>")
        .to_owned();
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!("{kind} {name}: field `{path}`: {}", e.into_inner())
    })
}
