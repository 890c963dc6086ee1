//! JSON input rules shared by request and stored types.
//!
//! serde's derived `Deserialize` for a struct takes a JSON array too, as the struct's
//! fields in order, so `{"ports": [[80]]}` would read as `container_port: 80`. Types
//! that are objects on the wire derive with `#[serde(deny_unknown_fields, remote =
//! "Self")]` and get their trait impls from [`object_only!`], which accepts only a
//! JSON object (`invalid type: sequence, expected …` otherwise, at the field's path).
//! Whole request bodies are checked the same way by `http::extract::parse_json`.

/// Implements `Deserialize` (and, with `serialize`, `Serialize`) for `$ty`, which derives
/// them under `#[serde(remote = "Self")]`, accepting only a JSON object; `$expecting`
/// completes "invalid type: …, expected …".
macro_rules! object_only {
    ($ty:ty, $expecting:literal $(, $serialize:ident)?) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$ty, A::Error> {
                        <$ty>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(Visitor)
            }
        }
        $($crate::json::object_only!(@$serialize $ty);)?
    };
    (@serialize $ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }
    };
}
pub(crate) use object_only;

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, remote = "Self")]
    struct Port {
        container_port: u16,
        #[serde(default)]
        host_port: Option<u16>,
    }
    object_only!(Port, "a port object", serialize);

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        ports: Vec<Port>,
    }

    #[test]
    fn only_objects_are_structs() {
        let ok: Body =
            crate::http::extract::parse_json(br#"{"ports":[{"container_port":80}]}"#).unwrap();
        assert_eq!(
            ok.ports[0],
            Port {
                container_port: 80,
                host_port: None
            }
        );
        let e = crate::http::extract::parse_json::<Body>(br#"{"ports":[[1]]}"#).unwrap_err();
        assert_eq!(e.details[0].field, "ports[0]", "{e:?}");
        assert!(
            e.details[0].issue.contains("expected a port object"),
            "{e:?}"
        );
        let e =
            crate::http::extract::parse_json::<Body>(br#"{"ports":[{"container_port":80,"x":1}]}"#)
                .unwrap_err();
        assert_eq!(e.details[0].field, "ports[0].x", "{e:?}");
        let back = serde_json::to_value(Port {
            container_port: 1,
            host_port: Some(2),
        })
        .unwrap();
        assert_eq!(
            back,
            serde_json::json!({"container_port": 1, "host_port": 2})
        );
    }
}
