//! List queries shared by every list endpoint: `page` (from 1), `limit` (default 20,
//! max 100), `sort`, `order` (`asc|desc`) and filters `field=value` or
//! `field[op]=value` with op in `eq ne gt lt gte lte in nin regex` (docs/api.md §1.6
//! "Lists: paging, sorting, filtering"). Each endpoint declares a [`ListSpec`]: which fields
//! filter and sort and the SQL expression behind each. An unknown field or op is a 400, never
//! ignored.
//!
//! A request carries at most [`MAX_FILTERS`] filter terms, and an `in` / `nin` term at
//! most [`MAX_LIST_VALUES`] values; past either, a 400 that states the limit.
//!
//! `regex` runs the `regex` crate (linear time, no backtracking) through a SQLite
//! `regexp()` function, with the pattern capped at [`MAX_REGEX_LEN`] characters.

use crate::error::{Error, Result};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;

/// Items per page when the request gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest accepted `limit`; a larger one is a 400 on field `limit`.
pub const MAX_LIMIT: u32 = 100;
/// Most filter terms one list request may carry (SQLite parses each as one level of
/// an `AND` chain, and refuses expressions deeper than 1,000).
pub const MAX_FILTERS: usize = 32;
/// Most comma-separated values one `in` / `nin` filter may list.
pub const MAX_LIST_VALUES: usize = 100;
/// Longest accepted `regex` filter pattern, in bytes.
pub const MAX_REGEX_LEN: usize = 256;
/// Compiled-size cap of a `regex` filter, in bytes (the `regex` crate's size limit).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Sort direction, from the `order` query parameter (`asc` or `desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `asc`: smallest first (SQL `ASC`).
    Asc,
    /// `desc`: largest first (SQL `DESC`).
    Desc,
}

/// A filter operator, the `op` of `field[op]=value`; a bare `field=value` is [`Op::Eq`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`: equal (SQL `=`).
    Eq,
    /// `ne`: not equal (SQL `IS NOT`, so it also matches rows where the field is null).
    Ne,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `gte`: greater than or equal.
    Gte,
    /// `lte`: less than or equal.
    Lte,
    /// `in`: equal to one of a comma-separated list of at most [`MAX_LIST_VALUES`] values.
    In,
    /// `nin`: equal to none of a comma-separated list of at most [`MAX_LIST_VALUES`] values.
    Nin,
    /// `regex`: text fields only; Rust `regex` syntax, at most [`MAX_REGEX_LEN`] bytes.
    Regex,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            "gte" => Op::Gte,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            "regex" => Op::Regex,
            _ => return None,
        })
    }
}

/// The type of a filterable field, which decides how a filter value is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Compared as text; the only kind `regex` applies to.
    Text,
    /// A 64-bit integer; a value that does not parse is a 400 (`'x' is not an integer`).
    Integer,
    /// `true` or `false`, stored as SQLite integers 1 and 0.
    Bool,
    /// RFC 3339; normalised to the stored UTC form before comparing.
    Time,
}

/// One filterable / sortable field of an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Name in the API (`status`).
    pub name: &'static str,
    /// SQL expression it maps to (`s.status`). Never user input.
    pub sql: &'static str,
    /// How filter values for this field are parsed.
    pub kind: FieldKind,
    /// Whether `sort=<name>` may name it; true unless the endpoint turns it off.
    pub sortable: bool,
}

impl Field {
    /// A field that filters and sorts, mapped to `sql` (a constant, never user input).
    pub const fn new(name: &'static str, sql: &'static str, kind: FieldKind) -> Self {
        Self {
            name,
            sql,
            kind,
            sortable: true,
        }
    }
}

/// What one list endpoint allows.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    /// The fields the endpoint filters and sorts by; any other name is a 400 listing these.
    pub fields: &'static [Field],
    /// SQL expression used when no `sort` is given.
    pub default_sort: &'static str,
    /// Direction when the request gives no `order`.
    pub default_order: Order,
    /// Text columns that `search=<text>` looks in (a case-insensitive substring of any);
    /// empty: the list has no free-text search and `search` is an unknown filter.
    pub search: &'static [&'static str],
}

/// One parsed filter term, `field[op]=value`, not yet checked against a [`ListSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// API name of the field, as sent (checked by [`ListQuery::sql`]).
    pub field: String,
    /// The operator; [`Op::Eq`] for the plain `field=value` form.
    pub op: Op,
    /// The raw value; a comma-separated list for `in` / `nin`.
    pub value: String,
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page number from 1 (default 1).
    pub page: u32,
    /// Items per page, 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]).
    pub limit: u32,
    /// API name of the field to sort by; `None` = the spec's default sort.
    pub sort: Option<String>,
    /// Sort direction; `None` = the spec's default order.
    pub order: Option<Order>,
    /// Filter terms in request order, at most [`MAX_FILTERS`]; combined with AND.
    pub filters: Vec<Filter>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
            sort: None,
            order: None,
            filters: Vec::new(),
        }
    }
}

/// One page of results plus the total that matched.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items of this page, at most `limit`.
    pub items: Vec<T>,
    /// How many items matched in all pages (`meta.pagination.total`).
    pub total: u64,
    /// Page number from 1, as requested.
    pub page: u32,
    /// Items per page, as requested.
    pub limit: u32,
}

impl<T> Page<T> {
    /// Converts every item with `f`, keeping the paging numbers.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            limit: self.limit,
        }
    }

    /// Pages a list already in memory (for lists that come from Docker, not SQL).
    pub fn from_vec(all: Vec<T>, q: &ListQuery) -> Page<T> {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(((u64::from(q.page) - 1) * u64::from(q.limit)) as usize)
            .take(q.limit as usize)
            .collect();
        Page {
            items,
            total,
            page: q.page,
            limit: q.limit,
        }
    }
}

impl ListQuery {
    /// Parses decoded query pairs. Paging keys are taken; every other key is a filter
    /// (`name` or `name[op]`), checked against a spec later by [`ListQuery::sql`].
    pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery> {
        let mut q = ListQuery::default();
        for (key, value) in pairs {
            match key.as_str() {
                "page" => {
                    q.page = value
                        .parse::<u32>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| Error::field("page", "must be an integer >= 1"))?;
                }
                // `size` is seed 000's name for `limit`.
                "limit" | "size" => {
                    q.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            Error::field(
                                "limit",
                                format!("must be an integer from 1 to {MAX_LIMIT}"),
                            )
                        })?;
                }
                "sort" => q.sort = Some(value.clone()),
                "order" => {
                    q.order = Some(match value.as_str() {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        _ => return Err(Error::field("order", "must be 'asc' or 'desc'")),
                    })
                }
                _ => {
                    let (field, op) = match key.split_once('[') {
                        Some((f, rest)) => {
                            let op = rest
                                .strip_suffix(']')
                                .and_then(Op::parse)
                                .ok_or_else(|| {
                                    Error::field(
                                        key.as_str(),
                                        "unknown filter operator (use eq ne gt lt gte lte in nin regex)",
                                    )
                                })?;
                            (f.to_string(), op)
                        }
                        None => (key.clone(), Op::Eq),
                    };
                    if q.filters.len() == MAX_FILTERS {
                        return Err(Error::field(
                            key.as_str(),
                            format!("too many filters (at most {MAX_FILTERS} per request)"),
                        ));
                    }
                    if matches!(op, Op::In | Op::Nin) && value.split(',').count() > MAX_LIST_VALUES
                    {
                        return Err(Error::field(
                            key.as_str(),
                            format!("too many values (at most {MAX_LIST_VALUES} per filter)"),
                        ));
                    }
                    if op == Op::Regex && value.len() > MAX_REGEX_LEN {
                        return Err(Error::field(
                            key.as_str(),
                            format!("regex longer than {MAX_REGEX_LEN} characters"),
                        ));
                    }
                    q.filters.push(Filter {
                        field,
                        op,
                        value: value.clone(),
                    });
                }
            }
        }
        Ok(q)
    }

    /// Removes and returns the `eq` filter named `name`, for endpoints that give a key a
    /// meaning of their own (e.g. `from`/`to` on request logs).
    pub fn take(&mut self, name: &str) -> Option<String> {
        let i = self
            .filters
            .iter()
            .position(|f| f.field == name && f.op == Op::Eq)?;
        Some(self.filters.remove(i).value)
    }

    /// Validates the query against `spec` and renders it as SQL pieces.
    pub fn sql(&self, spec: &ListSpec) -> Result<SqlParts> {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        for f in &self.filters {
            if f.field == SEARCH && f.op == Op::Eq && !spec.search.is_empty() {
                clauses.push(search_clause(spec.search, &f.value, &mut params)?);
                continue;
            }
            let field = spec
                .fields
                .iter()
                .find(|x| x.name == f.field)
                .ok_or_else(|| {
                    let mut allowed: Vec<_> = spec.fields.iter().map(|x| x.name).collect();
                    if !spec.search.is_empty() {
                        allowed.push(SEARCH);
                    }
                    Error::field(
                        f.field.as_str(),
                        format!("unknown filter field (allowed: {})", allowed.join(", ")),
                    )
                })?;
            clauses.push(clause(field, f, &mut params)?);
        }
        let order = match self.order.unwrap_or(spec.default_order) {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        Ok(SqlParts {
            where_sql: if clauses.is_empty() {
                "1 = 1".to_string()
            } else {
                clauses.join(" AND ")
            },
            params,
            order_sql: format!("{} {order}", self.sort_sql(spec)?),
            limit: self.limit,
            page: self.page,
        })
    }

    /// The SQL expression to sort by: the `sort` field's, or the spec's default.
    fn sort_sql(&self, spec: &ListSpec) -> Result<&'static str> {
        let Some(s) = &self.sort else {
            return Ok(spec.default_sort);
        };
        // Seed 003 sorts by `created` and `updated`.
        let name = match s.as_str() {
            "created" => "created_at",
            "updated" => "updated_at",
            other => other,
        };
        spec.fields
            .iter()
            .find(|x| x.name == name && x.sortable)
            .map(|x| x.sql)
            .ok_or_else(|| {
                let allowed: Vec<_> = spec
                    .fields
                    .iter()
                    .filter(|x| x.sortable)
                    .map(|x| x.name)
                    .collect();
                Error::field(
                    "sort",
                    format!("cannot sort by '{s}' (allowed: {})", allowed.join(", ")),
                )
            })
    }
}

/// The free-text parameter of lists whose spec has [`ListSpec::search`] columns.
pub const SEARCH: &str = "search";

/// The longest `search` text, in bytes.
pub const MAX_SEARCH_LEN: usize = 256;

/// `(col LIKE ? OR …)` for `search=<text>`: `text` as a substring of any column, with
/// `%`, `_` and `\` escaped so they match themselves (SQLite `LIKE … ESCAPE`, which
/// ignores ASCII case). Errors: `VALIDATION_ERROR` naming `search` when it is empty or
/// longer than [`MAX_SEARCH_LEN`].
fn search_clause(columns: &[&str], text: &str, params: &mut Vec<Value>) -> Result<String> {
    if text.is_empty() || text.len() > MAX_SEARCH_LEN {
        return Err(Error::field(
            SEARCH,
            format!("must be 1 to {MAX_SEARCH_LEN} bytes"),
        ));
    }
    let pattern = format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let terms: Vec<String> = columns
        .iter()
        .map(|c| {
            params.push(Value::Text(pattern.clone()));
            format!("{c} LIKE ? ESCAPE '\\'")
        })
        .collect();
    Ok(format!("({})", terms.join(" OR ")))
}

/// The SQL condition of one filter on `field`, its values appended to `params`.
fn clause(field: &Field, f: &Filter, params: &mut Vec<Value>) -> Result<String> {
    let col = field.sql;
    Ok(match f.op {
        Op::In | Op::Nin => {
            let values: Vec<&str> = f.value.split(',').collect();
            let marks = vec!["?"; values.len()].join(", ");
            let not = if f.op == Op::Nin { "NOT " } else { "" };
            for v in values {
                params.push(typed_value(field, v)?);
            }
            format!("{col} {not}IN ({marks})")
        }
        Op::Regex => {
            if field.kind != FieldKind::Text {
                return Err(Error::field(
                    f.field.as_str(),
                    "regex applies to text fields only",
                ));
            }
            compile_regex(&f.value)
                .map_err(|e| Error::field(f.field.as_str(), format!("invalid regex: {e}")))?;
            params.push(Value::Text(f.value.clone()));
            format!("regexp(?, {col})")
        }
        op => {
            let sym = match op {
                Op::Eq => "=",
                Op::Ne => "IS NOT",
                Op::Gt => ">",
                Op::Lt => "<",
                Op::Gte => ">=",
                _ => "<=",
            };
            params.push(typed_value(field, &f.value)?);
            format!("{col} {sym} ?")
        }
    })
}

/// A validated list query as SQL: `WHERE {where_sql} ORDER BY {order_sql} LIMIT … OFFSET …`.
#[derive(Debug, Clone)]
pub struct SqlParts {
    /// The filters as one SQL condition (`1 = 1` when there are none), with `?` placeholders.
    pub where_sql: String,
    /// Values for the `?` placeholders of `where_sql`, in order.
    pub params: Vec<Value>,
    /// `<sort expression> ASC|DESC`.
    pub order_sql: String,
    /// Items per page (SQL `LIMIT`).
    pub limit: u32,
    /// Page number from 1 (SQL `OFFSET` is `(page - 1) * limit`).
    pub page: u32,
}

impl SqlParts {
    /// Adds a fixed condition (e.g. "only this user's keys") ANDed with the filters.
    pub fn and(mut self, clause: &str, params: impl IntoIterator<Item = Value>) -> Self {
        self.where_sql = format!("({}) AND ({clause})", self.where_sql);
        self.params.extend(params);
        self
    }

    /// Runs `SELECT {columns} FROM {from} WHERE … ORDER BY … LIMIT … OFFSET …` and the
    /// matching count, returning one [`Page`].
    pub fn query<T>(
        &self,
        conn: &Connection,
        columns: &str,
        from: &str,
        mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Page<T>> {
        let params = rusqlite::params_from_iter(self.params.iter());
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {from} WHERE {}", self.where_sql),
            params,
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT {columns} FROM {from} WHERE {} ORDER BY {} LIMIT {} OFFSET {}",
            self.where_sql,
            self.order_sql,
            self.limit,
            (self.page as u64 - 1) * self.limit as u64
        );
        let mut stmt = conn.prepare(&sql)?;
        let items = stmt
            .query_map(rusqlite::params_from_iter(self.params.iter()), |r| map(r))?
            .collect::<rusqlite::Result<Vec<T>>>()?;
        Ok(Page {
            items,
            total: total as u64,
            page: self.page,
            limit: self.limit,
        })
    }
}

fn typed_value(field: &Field, v: &str) -> Result<Value> {
    let bad = |what: &str| Error::field(field.name, format!("'{v}' is not {what}"));
    Ok(match field.kind {
        FieldKind::Text => Value::Text(v.to_string()),
        FieldKind::Integer => Value::Integer(v.parse().map_err(|_| bad("an integer"))?),
        FieldKind::Bool => Value::Integer(match v {
            "true" => 1,
            "false" => 0,
            _ => return Err(bad("true or false")),
        }),
        FieldKind::Time => Value::Text(crate::time::format_rfc3339(
            crate::time::parse_input(v).ok_or_else(|| bad("an RFC 3339 time or a date"))?,
        )),
    })
}

fn compile_regex(pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Registers `regexp(pattern, value)` on a connection; the compiled pattern is cached
/// per statement.
pub(crate) fn register_regexp(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re = ctx.get_or_create_aux(
                0,
                |v| -> std::result::Result<_, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(compile_regex(v.as_str()?)?)
                },
            )?;
            let value = match ctx.get_raw(1) {
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Null => return Ok(false),
                other => format!("{other:?}"),
            };
            Ok(re.is_match(&value))
        },
    )
}

#[cfg(test)]
mod tests;
