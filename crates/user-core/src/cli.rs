//! The binaries' command line: `serve` (default), `migrate`, `admin <command> <args…>`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Admin(Vec<String>),
}

impl Command {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut args = args.into_iter();
        match args.next().as_deref() {
            None | Some("serve") => Ok(Self::Serve),
            Some("migrate") => Ok(Self::Migrate),
            Some("admin") => Ok(Self::Admin(args.collect())),
            Some(other) => Err(format!(
                "unknown command {other:?}; expected serve, migrate or admin"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        Command::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn commands() {
        assert_eq!(p(&[]), Ok(Command::Serve));
        assert_eq!(p(&["serve"]), Ok(Command::Serve));
        assert_eq!(p(&["migrate"]), Ok(Command::Migrate));
        assert_eq!(
            p(&["admin", "group-create", "Acme"]),
            Ok(Command::Admin(vec!["group-create".into(), "Acme".into()]))
        );
        assert!(p(&["bogus"]).is_err());
    }
}
