//! Discovery documents: aggregated (apidiscovery.k8s.io/v2) and legacy, plus `/version`.
//!
//! k8s-openapi has no aggregated discovery types, and its `APIGroup` always carries its kind
//! (which the items of a real `APIGroupList` do not): those documents have types of their
//! own here, shaped like the real server's replies.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIResource, APIResourceList, GroupVersionForDiscovery,
};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde::{Deserialize, Serialize};

use super::resources::{GROUPS, RESOURCES, ResourceInfo, VERBS, in_group};

/// The Content-Type of an aggregated discovery reply.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the Accept header asks for aggregated discovery.
pub fn wants_aggregated(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2"))
}

/// `/version`.
pub fn version() -> Info {
    let s = str::to_owned;
    Info {
        major: s("1"),
        minor: s("37"),
        emulation_major: Some(s("1")),
        emulation_minor: Some(s("37")),
        min_compatibility_major: Some(s("1")),
        min_compatibility_minor: Some(s("36")),
        git_version: s("v1.37.2"),
        git_commit: s("0000000000000000000000000000000000000000"),
        git_tree_state: s("clean"),
        build_date: s("2026-01-01T00:00:00Z"),
        go_version: s("go1.26.8"),
        compiler: s("gc"),
        platform: s("linux/amd64"),
    }
}

/// A group, version and kind (`responseKind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// API group, "" for core.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// A subresource in aggregated discovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverySubresource {
    /// Its name (`scale`).
    pub subresource: String,
    /// What it answers with.
    pub response_kind: GroupVersionKind,
    /// Its verbs.
    pub verbs: Vec<String>,
}

/// A resource in aggregated discovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryResource {
    /// Plural name.
    pub resource: String,
    /// Its objects' kind.
    pub response_kind: GroupVersionKind,
    /// `Namespaced` or `Cluster`.
    pub scope: String,
    /// Singular name.
    pub singular_resource: String,
    /// Its verbs.
    pub verbs: Vec<String>,
    /// kubectl short names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Categories (`all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Its subresources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<DiscoverySubresource>,
}

/// One version of a group in aggregated discovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscoveryVersion {
    /// The version.
    pub version: String,
    /// Its resources.
    pub resources: Vec<DiscoveryResource>,
    /// `Current`.
    pub freshness: String,
}

/// A group's metadata in aggregated discovery: its name (none for core), and a
/// `creationTimestamp` Go writes as null.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMetadata {
    /// The group, `None` for core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Always null.
    pub creation_timestamp: Option<String>,
}

/// A group in aggregated discovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscoveryGroup {
    /// Its metadata.
    pub metadata: GroupMetadata,
    /// Its versions.
    pub versions: Vec<DiscoveryVersion>,
}

/// An empty `metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NoMetadata {}

/// `APIGroupDiscoveryList`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryList {
    /// `APIGroupDiscoveryList`.
    pub kind: String,
    /// `apidiscovery.k8s.io/v2`.
    pub api_version: String,
    /// Empty.
    pub metadata: NoMetadata,
    /// The groups.
    pub items: Vec<DiscoveryGroup>,
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn gvk(group: &str, version: &str, kind: &str) -> GroupVersionKind {
    GroupVersionKind {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
    }
}

const READ_WRITE: &[&str] = &["get", "patch", "update"];

fn subresource_kind(info: &ResourceInfo, sub: &str) -> (GroupVersionKind, &'static [&'static str]) {
    let same = gvk(info.group, info.version, info.kind);
    match sub {
        "scale" => (gvk("autoscaling", "v1", "Scale"), READ_WRITE),
        "status" => (same, READ_WRITE),
        "exec" => (gvk("", "v1", "PodExecOptions"), &["create", "get"]),
        "proxy" => (
            gvk("", "v1", &format!("{}ProxyOptions", info.kind)),
            &["create", "delete", "get", "patch", "update"],
        ),
        _ => (same, &["get"]),
    }
}

fn categories(info: &ResourceInfo) -> Vec<String> {
    if info.in_all {
        owned(&["all"])
    } else {
        Vec::new()
    }
}

fn aggregated_resource(info: &ResourceInfo) -> DiscoveryResource {
    let subresources = info
        .subresources
        .iter()
        .map(|sub| {
            let (kind, verbs) = subresource_kind(info, sub);
            DiscoverySubresource {
                subresource: (*sub).to_owned(),
                response_kind: kind,
                verbs: owned(verbs),
            }
        })
        .collect();
    DiscoveryResource {
        resource: info.resource.to_owned(),
        response_kind: gvk(info.group, info.version, info.kind),
        scope: if info.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }
        .to_owned(),
        singular_resource: info.singular.to_owned(),
        verbs: owned(VERBS),
        short_names: owned(info.short_names),
        categories: categories(info),
        subresources,
    }
}

fn aggregated_group(group: &str, version: &str) -> DiscoveryGroup {
    DiscoveryGroup {
        metadata: GroupMetadata {
            name: (!group.is_empty()).then(|| group.to_owned()),
            creation_timestamp: None,
        },
        versions: vec![DiscoveryVersion {
            version: version.to_owned(),
            resources: in_group(group, version).map(aggregated_resource).collect(),
            freshness: "Current".to_owned(),
        }],
    }
}

/// Aggregated discovery for `/api` (core) or `/apis` (named groups).
pub fn aggregated(core: bool) -> DiscoveryList {
    let items = if core {
        vec![aggregated_group("", "v1")]
    } else {
        GROUPS.iter().map(|(g, v)| aggregated_group(g, v)).collect()
    };
    DiscoveryList {
        kind: "APIGroupDiscoveryList".to_owned(),
        api_version: "apidiscovery.k8s.io/v2".to_owned(),
        metadata: NoMetadata {},
        items,
    }
}

/// Where clients reach the server, from any network.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerAddress {
    /// `0.0.0.0/0`.
    #[serde(rename = "clientCIDR")]
    pub client_cidr: String,
    /// `host:port`.
    pub server_address: String,
}

/// Legacy `/api`: `APIVersions`, with no `apiVersion` as the real server sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiVersions {
    /// `APIVersions`.
    pub kind: String,
    /// `v1`.
    pub versions: Vec<String>,
    /// Where the server is.
    #[serde(rename = "serverAddressByClientCIDRs")]
    pub server_addresses: Vec<ServerAddress>,
}

/// Legacy `/api`.
pub fn api_versions(server_address: &str) -> ApiVersions {
    ApiVersions {
        kind: "APIVersions".to_owned(),
        versions: owned(&["v1"]),
        server_addresses: vec![ServerAddress {
            client_cidr: "0.0.0.0/0".to_owned(),
            server_address: server_address.to_owned(),
        }],
    }
}

/// A group in a legacy `APIGroupList` (no kind of its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyGroup {
    /// The group.
    pub name: String,
    /// Its versions.
    pub versions: Vec<GroupVersionForDiscovery>,
    /// The one it prefers.
    pub preferred_version: GroupVersionForDiscovery,
}

/// Legacy `/apis`: `APIGroupList`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupList {
    /// `APIGroupList`.
    pub kind: String,
    /// `v1`.
    pub api_version: String,
    /// The groups.
    pub groups: Vec<LegacyGroup>,
}

fn legacy_group(group: &str, version: &str) -> LegacyGroup {
    let gv = GroupVersionForDiscovery {
        group_version: format!("{group}/{version}"),
        version: version.to_owned(),
    };
    LegacyGroup {
        name: group.to_owned(),
        versions: vec![gv.clone()],
        preferred_version: gv,
    }
}

/// Legacy `/apis`.
pub fn api_group_list() -> ApiGroupList {
    ApiGroupList {
        kind: "APIGroupList".to_owned(),
        api_version: "v1".to_owned(),
        groups: GROUPS.iter().map(|(g, v)| legacy_group(g, v)).collect(),
    }
}

/// Legacy `/apis/GROUP`, when served.
pub fn api_group(group: &str) -> Option<APIGroup> {
    GROUPS.iter().find(|(g, _)| *g == group).map(|(g, v)| {
        let legacy = legacy_group(g, v);
        APIGroup {
            name: legacy.name,
            versions: legacy.versions,
            preferred_version: Some(legacy.preferred_version),
            server_address_by_client_cidrs: None,
        }
    })
}

/// Legacy `APIResourceList` for one group/version, when served.
pub fn api_resource_list(group: &str, version: &str) -> Option<APIResourceList> {
    let known = (group.is_empty() && version == "v1")
        || GROUPS.iter().any(|(g, v)| *g == group && *v == version);
    if !known {
        return None;
    }
    let mut resources = Vec::new();
    for info in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let short_names = owned(info.short_names);
        let categories = categories(info);
        resources.push(APIResource {
            name: info.resource.to_owned(),
            singular_name: info.singular.to_owned(),
            namespaced: info.namespaced,
            kind: info.kind.to_owned(),
            verbs: owned(VERBS),
            short_names: (!short_names.is_empty()).then_some(short_names),
            categories: (!categories.is_empty()).then_some(categories),
            ..APIResource::default()
        });
        for sub in info.subresources {
            let (kind, verbs) = subresource_kind(info, sub);
            let elsewhere = kind.group != info.group;
            resources.push(APIResource {
                name: format!("{}/{sub}", info.resource),
                singular_name: String::new(),
                namespaced: info.namespaced,
                kind: kind.kind,
                verbs: owned(verbs),
                group: elsewhere.then(|| kind.group.clone()),
                version: elsewhere.then(|| kind.version.clone()),
                ..APIResource::default()
            });
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(APIResourceList {
        group_version,
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_has_scale_and_short_names() {
        let apis = aggregated(false);
        let apps = &apis.items[0];
        assert_eq!(apps.metadata.name.as_deref(), Some("apps"));
        let deploy = &apps.versions[0].resources[0];
        assert_eq!(deploy.resource, "deployments");
        assert_eq!(deploy.short_names, vec!["deploy".to_owned()]);
        assert_eq!(deploy.subresources[0].response_kind.kind, "Scale");
        let core = aggregated(true);
        assert!(core.items[0].metadata.name.is_none());
        // On the wire: Go's null creationTimestamp, and no name for the core group.
        let wire: serde_json::Value = serde_json::to_value(&core).expect("serialises");
        let metadata = serde_json::json!({"creationTimestamp": null});
        let items = wire.get("items").and_then(|i| i.get(0));
        assert_eq!(items.and_then(|i| i.get("metadata")), Some(&metadata));
    }

    #[test]
    fn accept_header_detection() {
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
    }

    #[test]
    fn legacy_lists_subresources() {
        let list = api_resource_list("apps", "v1").expect("apps/v1");
        let names: Vec<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
        assert!(names.contains(&"deployments/scale"));
        let scale = list
            .resources
            .iter()
            .find(|r| r.name == "deployments/scale");
        assert_eq!(scale.and_then(|s| s.group.as_deref()), Some("autoscaling"));
        assert!(api_resource_list("batch", "v1").is_none());
        let groups = serde_json::to_value(api_group_list()).expect("serialises");
        let first = groups
            .get("groups")
            .and_then(|g| g.get(0))
            .expect("a group");
        assert!(first.get("kind").is_none(), "list items carry no kind");
    }
}
