//! Categories of web sites and e-mail domains, shared by the simulator and the CERT keys.
//!
//! The lists are data: `categories.toml` next to this file is embedded as the default
//! ([`Categories::embedded`]), and another file of the same shape can replace it
//! ([`Categories::from_toml`]). A URL's host matches a listed domain when it is that domain or a
//! subdomain of it; the longest listed suffix wins.

use serde::Deserialize;
use std::collections::HashMap;

/// The default lists.
pub const DEFAULT_TOML: &str = include_str!("categories.toml");

/// What kind of site a URL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Job boards and recruiters.
    JobSearch,
    /// Sites that publish leaked documents.
    Leak,
    /// Cloud storage and file sharing.
    CloudStorage,
    /// Keyloggers, spyware, hacking tools.
    Hacking,
    /// Personal web mail.
    Webmail,
    /// Ordinary browsing.
    Ordinary,
}

impl Category {
    /// Every category, in the order of the file.
    pub const ALL: [Category; 6] = [
        Category::JobSearch,
        Category::Leak,
        Category::CloudStorage,
        Category::Hacking,
        Category::Webmail,
        Category::Ordinary,
    ];

    /// Its key in the TOML file.
    pub fn name(self) -> &'static str {
        match self {
            Self::JobSearch => "job_search",
            Self::Leak => "leak",
            Self::CloudStorage => "cloud_storage",
            Self::Hacking => "hacking",
            Self::Webmail => "webmail",
            Self::Ordinary => "ordinary",
        }
    }
}

/// The file's shape: one list of domains per category.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lists {
    job_search: Vec<String>,
    leak: Vec<String>,
    cloud_storage: Vec<String>,
    hacking: Vec<String>,
    webmail: Vec<String>,
    personal_email: Vec<String>,
    ordinary: Vec<String>,
}

/// The domain lists, by category, with a lookup by host.
#[derive(Debug, Clone)]
pub struct Categories {
    lists: Vec<(Category, Vec<String>)>,
    personal_email: Vec<String>,
    by_domain: HashMap<String, Category>,
}

/// The category file is not valid.
#[derive(Debug, thiserror::Error)]
pub enum CategoriesError {
    /// Not TOML of the expected shape.
    #[error("categories: {0}")]
    Toml(#[from] toml::de::Error),
    /// A domain is empty, has a scheme or a path, or is listed under two categories.
    #[error("categories: {category}: {reason}")]
    Domain {
        /// The list it is in.
        category: &'static str,
        /// Why.
        reason: String,
    },
}

impl Categories {
    /// The embedded default lists.
    pub fn embedded() -> Self {
        // The embedded file is checked by a test; an error here is a build defect.
        Self::from_toml(DEFAULT_TOML).unwrap_or_else(|e| panic!("embedded categories.toml: {e}"))
    }

    /// Reads lists of the same shape as `categories.toml`.
    pub fn from_toml(text: &str) -> Result<Self, CategoriesError> {
        let l: Lists = toml::from_str(text)?;
        let lists = vec![
            (Category::JobSearch, l.job_search),
            (Category::Leak, l.leak),
            (Category::CloudStorage, l.cloud_storage),
            (Category::Hacking, l.hacking),
            (Category::Webmail, l.webmail),
            (Category::Ordinary, l.ordinary),
        ];
        let mut by_domain = HashMap::new();
        let mut clean = Vec::with_capacity(lists.len());
        for (category, domains) in lists {
            let mut out = Vec::with_capacity(domains.len());
            for d in domains {
                let d = check_domain(category.name(), &d)?;
                match by_domain.insert(d.clone(), category) {
                    Some(other) if other != category => {
                        return Err(CategoriesError::Domain {
                            category: category.name(),
                            reason: format!("{d} is also under {}", other.name()),
                        });
                    }
                    Some(_) => {}
                    None => out.push(d),
                }
            }
            clean.push((category, out));
        }
        let personal_email = l
            .personal_email
            .iter()
            .map(|d| check_domain("personal_email", d))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            lists: clean,
            personal_email,
            by_domain,
        })
    }

    /// The domains of `category`, in file order.
    pub fn domains(&self, category: Category) -> &[String] {
        self.lists
            .iter()
            .find(|(c, _)| *c == category)
            .map_or(&[], |(_, d)| d.as_slice())
    }

    /// Domains of personal e-mail addresses (`gmail.com`).
    pub fn personal_email(&self) -> &[String] {
        &self.personal_email
    }

    /// The category of a URL (`http://mail.yahoo.com/x`) or a bare host; `None` when no list
    /// has its host or a parent of it.
    pub fn classify_url(&self, url: &str) -> Option<Category> {
        let host = host_of(url);
        let mut rest = host.as_str();
        loop {
            if let Some(c) = self.by_domain.get(rest) {
                return Some(*c);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Whether an e-mail address is at a personal mail domain (or a subdomain of one).
    pub fn is_personal_email(&self, address: &str) -> bool {
        let Some((_, domain)) = address.trim().rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_ascii_lowercase();
        self.personal_email
            .iter()
            .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
    }
}

/// The lowercase host of a URL, without `www.` and the port.
pub fn host_of(url: &str) -> String {
    let s = url.trim();
    let s = s.split_once("://").map_or(s, |(_, r)| r);
    let end = s.find(['/', '?', '#']).unwrap_or(s.len());
    let host = &s[..end];
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h);
    let host = host.to_ascii_lowercase();
    match host.strip_prefix("www.") {
        Some(h) => h.to_string(),
        None => host,
    }
}

fn check_domain(category: &'static str, d: &str) -> Result<String, CategoriesError> {
    let d = d.trim().to_ascii_lowercase();
    let bad = d.is_empty()
        || d.contains(['/', ':', '@', ' '])
        || d.starts_with('.')
        || d.ends_with('.')
        || !d.contains('.');
    if bad {
        return Err(CategoriesError::Domain {
            category,
            reason: format!("{d:?} is not a domain name"),
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lists_load_and_classify() {
        let c = Categories::embedded();
        for cat in Category::ALL {
            assert!(!c.domains(cat).is_empty(), "{}", cat.name());
        }
        assert_eq!(
            c.classify_url("http://wikileaks.org/submit/x.php"),
            Some(Category::Leak)
        );
        assert_eq!(
            c.classify_url("https://WWW.Monster.com:443/jobs?q=1"),
            Some(Category::JobSearch)
        );
        assert_eq!(
            c.classify_url("http://mail.yahoo.com/inbox"),
            Some(Category::Webmail)
        );
        assert_eq!(
            c.classify_url("http://news.yahoo.com/a"),
            Some(Category::Ordinary)
        );
        assert_eq!(
            c.classify_url("http://eu.dl.dropbox.com/u/1"),
            Some(Category::CloudStorage)
        );
        assert_eq!(c.classify_url("http://example.invalid/"), None);
        assert_eq!(c.classify_url(""), None);
        assert!(c.is_personal_email("Ann.Bee@Gmail.com"));
        assert!(!c.is_personal_email("Ann.Bee@dtaa.com"));
        assert!(!c.is_personal_email("no address"));
    }

    #[test]
    fn bad_files_are_refused_with_the_list_named() {
        let base =
            DEFAULT_TOML.replace("\"wikileaks.org\",", "\"wikileaks.org\", \"dropbox.com\",");
        let e = Categories::from_toml(&base).unwrap_err().to_string();
        assert!(
            e.contains("cloud_storage: dropbox.com is also under leak"),
            "{e}"
        );
        let e = Categories::from_toml(&DEFAULT_TOML.replace("\"cryptome.org\"", "\"http://x/\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("leak: \"http://x/\" is not a domain name"),
            "{e}"
        );
        let e = Categories::from_toml("job_search = []\nsurprise = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("categories:"), "{e}");
    }
}
