//! The macros the settings are declared with: `settings!` turns one line per
//! variable into the typed field, its loading (default, parser, refusal) and
//! its `check-config` line; `choices!` turns one line per spelling into an
//! enum with its parser and its name.

/// Declares a settings struct, one line per field:
///
/// - `var("NAME" | "ALIAS", reader, show)`: read from `NAME` (else from
///   `ALIAS`) by a reader of `load.rs` (default, parser, refusals); `show`
///   formats it for `check-config`, else its type's `Show` does;
/// - `section(args)`: a nested settings struct, loaded with `args`;
/// - `derived(value, "SHOWN", show)`: computed from the inputs and the fields
///   above, and shown under a name that is not a variable.
///
/// `inputs` are variables read only to compute a field (not shown). Fields
/// load in order, so a line may use the fields above it, by name.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($vars:ident $(, $arg:ident: $arg_ty:ty)*) {
            $(inputs { $($input:ident = $input_name:literal, $input_read:expr;)* })?
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: $ty:ty = $kind:ident($($spec:tt)*);
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// Reads every field, in order; the first refused value stops it.
            pub(in crate::config) fn load(
                $vars: &crate::config::load::Vars<'_>
                $(, $arg: $arg_ty)*
            ) -> Result<Self, crate::config::ConfigError> {
                $($(let $input = $vars.input($input_name, $input_read);)*)?
                $(let $field: $ty = load_field!($vars, $ty, $kind($($spec)*));)*
                Ok(Self { $($field),* })
            }

            /// Appends the `check-config` lines, in declaration order.
            pub(in crate::config) fn describe_into(&self, out: &mut Vec<(&'static str, String)>) {
                $(describe_field!(out, &self.$field, $kind($($spec)*));)*
            }

            /// Appends every variable declared here.
            pub(in crate::config) fn declare_into(out: &mut Vec<crate::config::Variable>) {
                $($(out.push(crate::config::Variable { name: $input_name, shown: false });)*)?
                $(declare_field!(out, $ty, $kind($($spec)*));)*
            }
        }
    };
}

macro_rules! load_field {
    ($vars:ident, $ty:ty, var($name:literal $(| $alias:literal)*, $read:expr $(, $show:expr)?)) => {
        $vars.read($name, &[$($alias),*], $read)?
    };
    ($vars:ident, $ty:ty, section($($arg:expr),*)) => {
        <$ty>::load($vars $(, $arg)*)?
    };
    ($vars:ident, $ty:ty, derived($value:expr, $shown:literal, $show:expr)) => {
        $value
    };
}

macro_rules! describe_field {
    ($out:ident, $value:expr, var($name:literal $(| $alias:literal)*, $read:expr)) => {
        $out.push(($name, crate::config::describe::Show::show($value)))
    };
    ($out:ident, $value:expr, var($name:literal $(| $alias:literal)*, $read:expr, $show:expr)) => {
        $out.push(($name, crate::config::describe::line($value, $show)))
    };
    ($out:ident, $value:expr, section($($arg:expr),*)) => {
        $value.describe_into($out)
    };
    ($out:ident, $value:expr, derived($derived:expr, $shown:literal, $show:expr)) => {
        $out.push(($shown, crate::config::describe::line($value, $show)))
    };
}

macro_rules! declare_field {
    ($out:ident, $ty:ty, var($name:literal $(| $alias:literal)*, $read:expr $(, $show:expr)?)) => {
        $out.push(crate::config::Variable {
            name: $name,
            shown: true,
        })
    };
    ($out:ident, $ty:ty, section($($arg:expr),*)) => {
        <$ty>::declare_into($out)
    };
    ($out:ident, $ty:ty, derived($value:expr, $shown:literal, $show:expr)) => {};
}

/// Declares an enum read from one of its spellings (case-insensitive; the
/// first is its name, the others are accepted aliases).
macro_rules! choices {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$variant_meta])* $variant,)* }

        impl $name {
            /// The name `check-config` prints (and the parser reads back).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }

            pub(crate) fn parse(raw: &str) -> Result<Self, String> {
                match raw.trim().to_ascii_lowercase().as_str() {
                    $($text $(| $alias)* => Ok(Self::$variant),)*
                    _ => Err(crate::config::parse::one_of(&[$($text),*])),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
