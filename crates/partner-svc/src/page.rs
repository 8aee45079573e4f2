//! Laravel's length-aware paginator: reading `page`, `per_page` and `search`, and writing
//! `data`, `meta` and `links` with absolute URLs.

use crate::wire::{PageLinks, PageMeta, UserJson, UserPage};
use std::collections::HashMap;
use user_core::laravel::Errors;

pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;
pub const MAX_SEARCH_CHARS: usize = 255;

/// The list's query, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// ≥ 1 (a page below 1 or not a number is 1, as in Laravel).
    pub page: i64,
    pub per_page: i64,
    /// Whether `per_page` was given (then the links keep it).
    pub per_page_given: bool,
    /// Trimmed; `None` when absent or empty.
    pub search: Option<String>,
}

impl PageQuery {
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let page = query
            .get("page")
            .and_then(|p| p.trim().parse::<i64>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        let raw_per_page = query
            .get("per_page")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        let per_page = match raw_per_page {
            None => DEFAULT_PER_PAGE,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                Ok(_) => {
                    errors.add(
                        "per_page",
                        format!("The per page must be between 1 and {MAX_PER_PAGE}."),
                    );
                    DEFAULT_PER_PAGE
                }
                Err(_) => {
                    errors.add("per_page", "The per page must be an integer.".to_owned());
                    DEFAULT_PER_PAGE
                }
            },
        };
        let search = query
            .get("search")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
        {
            errors.max_chars("search", MAX_SEARCH_CHARS);
        }
        if errors.is_empty() {
            Ok(Self {
                page,
                per_page,
                per_page_given: raw_per_page.is_some(),
                search,
            })
        } else {
            Err(errors)
        }
    }

    /// Rows to skip (saturating: a page far past the end is simply empty).
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// `path?search=…&per_page=…&page=n`.
    fn url(&self, path: &str, page: i64) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = &self.search {
            pairs.push(("search", s.clone()));
        }
        if self.per_page_given {
            pairs.push(("per_page", self.per_page.to_string()));
        }
        pairs.push(("page", page.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{path}?{query}")
    }

    /// The page body for `items` out of `total`, with links under `path` (an absolute URL).
    pub fn render(&self, items: Vec<UserJson>, total: i64, path: &str) -> UserPage {
        let last_page = ((total + self.per_page - 1) / self.per_page).max(1);
        let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let (from, to) = if count == 0 {
            (None, None)
        } else {
            let from = self.offset() + 1;
            (Some(from), Some(from + count - 1))
        };
        UserPage {
            data: items,
            meta: PageMeta {
                current_page: self.page,
                from,
                last_page,
                path: path.to_owned(),
                per_page: self.per_page,
                to,
                total,
            },
            links: PageLinks {
                first: self.url(path, 1),
                last: self.url(path, last_page),
                prev: (self.page > 1).then(|| self.url(path, self.page - 1)),
                next: (self.page < last_page).then(|| self.url(path, self.page + 1)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<PageQuery, Errors> {
        PageQuery::parse(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn pages_below_one_or_not_numbers_are_one() {
        for p in ["0", "-3", "abc", "", "2.5"] {
            assert_eq!(q(&[("page", p)]).unwrap().page, 1, "{p}");
        }
        assert_eq!(q(&[("page", "7")]).unwrap().page, 7);
    }

    #[test]
    fn per_page_is_checked() {
        assert_eq!(q(&[]).unwrap().per_page, 20);
        assert_eq!(q(&[("per_page", "5")]).unwrap().per_page, 5);
        assert_eq!(
            q(&[("per_page", "101")]).unwrap_err().to_json()["errors"]["per_page"][0],
            "The per page must be between 1 and 100."
        );
        assert_eq!(
            q(&[("per_page", "x")]).unwrap_err().to_json()["errors"]["per_page"][0],
            "The per page must be an integer."
        );
    }

    #[test]
    fn links_keep_search_and_per_page_with_page_last() {
        let query = q(&[("search", " Jo Doe "), ("per_page", "5"), ("page", "2")]).unwrap();
        let page = query.render(vec![], 12, "http://h/p");
        assert_eq!(
            page.links.first,
            "http://h/p?search=Jo+Doe&per_page=5&page=1"
        );
        assert_eq!(
            page.links.last,
            "http://h/p?search=Jo+Doe&per_page=5&page=3"
        );
        assert_eq!(
            page.links.prev.as_deref(),
            Some("http://h/p?search=Jo+Doe&per_page=5&page=1")
        );
        assert_eq!(
            page.links.next.as_deref(),
            Some("http://h/p?search=Jo+Doe&per_page=5&page=3")
        );
        assert_eq!(page.meta.last_page, 3);
        let huge = q(&[("page", "9223372036854775807")]).unwrap();
        assert_eq!(huge.offset(), i64::MAX);
    }
}
