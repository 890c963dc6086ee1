//! Roles and permissions. A permission is `<domain>:<action>` (`docs/api.md`, 1.9); a
//! user holds one or more roles and gets the union of their grants; an API key's
//! scopes can only narrow that. `<domain>:admin` implies every action in its domain,
//! and `write` and `execute` each imply `read`.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $(#[doc = concat!("`", $s, "`.")] $variant),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire form (`docs/api.md`, 1.9 "Roles and permissions").
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $s),+ } }
        }
        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> { match s { $($s => Ok($name::$variant),)+ _ => Err(()) } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

string_enum!(
    /// What a permission is about; one per API domain.
    Domain {
        Users = "users",
        Services = "services",
        Images = "images",
        Mcp = "mcp",
        Logs = "logs",
        System = "system",
        Audit = "audit",
        Config = "config",
        Backups = "backups",
        Kubernetes = "kubernetes",
        Network = "network",
        Workspaces = "workspaces",
    }
);

string_enum!(
    /// What may be done in a domain.
    Action { Read = "read", Write = "write", Execute = "execute", Admin = "admin" }
);

string_enum!(
    /// The built-in roles (`docs/api.md`, 1.9 "Roles and permissions").
    Role { Admin = "admin", Operator = "operator", Developer = "developer", Viewer = "viewer" }
);

/// `<domain>:<action>`, e.g. `services:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(pub Domain, pub Action);

impl Permission {
    /// Whether holding `self` allows `wanted`.
    pub fn implies(self, wanted: Permission) -> bool {
        self.0 == wanted.0
            && (self.1 == wanted.1
                || self.1 == Action::Admin
                || (wanted.1 == Action::Read && matches!(self.1, Action::Write | Action::Execute)))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl FromStr for Permission {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (d, a) = s.split_once(':').ok_or(())?;
        Ok(Permission(d.parse()?, a.parse()?))
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z]+:(read|write|execute|admin)$"))
            .examples(["services:read"])
            .into()
    }
}

impl utoipa::ToSchema for Permission {}

impl Role {
    /// What the role grants.
    pub fn grants(self) -> Vec<Permission> {
        use Action::*;
        use Domain::*;
        fn p(d: Domain, acts: &'static [Action]) -> impl Iterator<Item = Permission> {
            acts.iter().map(move |a| Permission(d, *a))
        }
        match self {
            Role::Admin => Domain::ALL.iter().map(|d| Permission(*d, Admin)).collect(),
            Role::Operator => [
                p(Services, &[Read, Write, Execute]).collect::<Vec<_>>(),
                p(Images, &[Read, Write]).collect(),
                p(Mcp, &[Read, Write, Execute]).collect(),
                p(Logs, &[Admin]).collect(),
                p(System, &[Read]).collect(),
                p(Users, &[Read]).collect(),
                p(Config, &[Read, Write]).collect(),
                p(Backups, &[Read, Write]).collect(),
                p(Kubernetes, &[Read, Write, Execute]).collect(),
                p(Network, &[Read, Write, Execute]).collect(),
                p(Workspaces, &[Read]).collect(),
            ]
            .concat(),
            Role::Developer => [
                p(Services, &[Read]).collect::<Vec<_>>(),
                p(Images, &[Read]).collect(),
                p(Mcp, &[Read, Execute]).collect(),
                p(Logs, &[Read]).collect(),
                p(System, &[Read]).collect(),
                p(Config, &[Read]).collect(),
                p(Kubernetes, &[Read]).collect(),
                p(Network, &[Read]).collect(),
                p(Workspaces, &[Read]).collect(),
            ]
            .concat(),
            Role::Viewer => [
                Services, Images, Mcp, Logs, System, Kubernetes, Network, Workspaces,
            ]
            .into_iter()
            .map(|d| Permission(d, Read))
            .collect(),
        }
    }

    /// One line for `GET /roles`.
    pub fn description(self) -> &'static str {
        match self {
            Role::Admin => "Full control, including users, roles and secrets",
            Role::Operator => "Runs services and MCP servers; manages infrastructure but not users",
            Role::Developer => "Uses MCP servers (discover and execute) and reads service state",
            Role::Viewer => "Read-only access to services, MCP servers and their logs",
        }
    }
}

/// An API key scope: a permission, or `*` for everything the owner holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `*`: everything the key's owner holds.
    All,
    /// One permission (`<domain>:<action>`), and what it implies.
    Only(Permission),
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s == "*" {
            Ok(Scope::All)
        } else {
            s.parse().map(Scope::Only)
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("*"),
            Scope::Only(p) => p.fmt(f),
        }
    }
}

impl Scope {
    /// Whether this scope lets through `wanted` (the owner's roles are checked separately).
    pub fn allows(self, wanted: Permission) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(p) => p.implies(wanted),
        }
    }
}

/// Whether `roles`, narrowed by `scopes` when the caller used an API key, allow `wanted`.
pub fn allowed(roles: &[Role], scopes: Option<&[Scope]>, wanted: Permission) -> bool {
    let by_role = roles
        .iter()
        .any(|r| r.grants().iter().any(|g| g.implies(wanted)));
    by_role && scopes.is_none_or(|s| s.iter().any(|sc| sc.allows(wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implication_rules() {
        let w = Permission(Domain::Services, Action::Write);
        assert!(w.implies(Permission(Domain::Services, Action::Read)));
        assert!(!w.implies(Permission(Domain::Services, Action::Execute)));
        assert!(!w.implies(Permission(Domain::Mcp, Action::Read)));
        assert!(
            Permission(Domain::Mcp, Action::Admin)
                .implies(Permission(Domain::Mcp, Action::Execute))
        );
    }

    #[test]
    fn scopes_narrow_but_never_widen() {
        let exec = Permission(Domain::Mcp, Action::Execute);
        let write = Permission(Domain::Services, Action::Write);
        assert!(allowed(&[Role::Developer], None, exec));
        assert!(!allowed(&[Role::Developer], None, write));
        // A scope the owner lacks grants nothing.
        assert!(!allowed(
            &[Role::Developer],
            Some(&[Scope::Only(write)]),
            write
        ));
        assert!(!allowed(&[Role::Admin], Some(&[Scope::Only(exec)]), write));
        assert!(allowed(&[Role::Admin], Some(&[Scope::All]), write));
        assert!(allowed(&[Role::Viewer, Role::Developer], None, exec));
    }

    #[test]
    fn strings_round_trip() {
        for d in Domain::ALL {
            for a in Action::ALL {
                let p = Permission(*d, *a);
                assert_eq!(p.to_string().parse::<Permission>(), Ok(p));
            }
        }
        assert!("services:fly".parse::<Permission>().is_err());
        assert_eq!("*".parse::<Scope>(), Ok(Scope::All));
    }
}
