# Reference values from lme4 that tests/reference (the WeMix cases) does not hold:
# REML fits, a Laplace glmer fit and an ML likelihood-ratio test (anova).
# Run from the project root:  Rscript tests/data/make_lme4_extra.R
# Writes tests/data/lme4_extra.json. Needs R with lme4 (Debian: r-cran-lme4).
suppressMessages(library(lme4))
ref <- file.path("tests", "reference", "data")
sleep <- read.csv(file.path(ref, "sleepstudy.csv"))
sleep$Subject <- factor(sleep$Subject)
pastes <- read.csv(file.path(ref, "pastes.csv"))

num <- function(x) sprintf("%.15g", x)
named <- function(v) paste0("{", paste(sprintf('"%s": %s', names(v), num(v)), collapse = ", "), "}")
fe_names <- function(v) { names(v)[names(v) == "(Intercept)"] <- "Intercept"; v }
vc_list <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  rows <- sprintf('{"group": "%s", "var1": %s, "var2": %s, "variance": %s}',
                  vc$grp,
                  ifelse(is.na(vc$var1), "null", sprintf('"%s"', sub("\\(Intercept\\)", "Intercept", vc$var1))),
                  ifelse(is.na(vc$var2), "null", sprintf('"%s"', sub("\\(Intercept\\)", "Intercept", vc$var2))),
                  num(vc$vcov))
  paste0("[", paste(rows, collapse = ", "), "]")
}
reml_case <- function(name, formula, data) {
  m <- lmer(formula, data = data, REML = TRUE, control = lmerControl(optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-10)))
  sprintf('"%s": {"formula": "%s", "data": "%s", "reml_criterion": %s, "llf": %s, "params": %s, "var_components": %s}',
          name, paste(deparse(formula), collapse = ""), deparse(substitute(data)),
          num(REMLcrit(m)), num(as.numeric(logLik(m))), named(fe_names(fixef(m))), vc_list(m))
}
out <- c(
  reml_case("sleep_ri_reml", Reaction ~ Days + (1 | Subject), sleep),
  reml_case("sleep_slope_reml", Reaction ~ Days + (Days | Subject), sleep),
  reml_case("pastes_reml", strength ~ 1 + (1 | sample) + (1 | batch), pastes)
)
g <- glmer(bin ~ Days + (1 | Subject), data = sleep, family = binomial, nAGQ = 1,
           control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
out <- c(out, sprintf('"sleep_binomial_laplace": {"formula": "bin ~ Days + (1|Subject)", "data": "sleep", "nAGQ": 1, "llf": %s, "params": %s, "var_components": %s}',
                      num(as.numeric(logLik(g))), named(fe_names(fixef(g))), vc_list(g)))
m0 <- lmer(Reaction ~ Days + (1 | Subject), data = sleep, REML = FALSE)
m1 <- lmer(Reaction ~ Days + (Days | Subject), data = sleep, REML = FALSE)
a <- anova(m0, m1)
out <- c(out, sprintf('"sleep_anova_ml": {"models": ["Reaction ~ Days + (1|Subject)", "Reaction ~ Days + (Days|Subject)"], "npar": [%s], "llf": [%s], "aic": [%s], "bic": [%s], "chisq": %s, "df": %s, "p_value": %s}',
                      paste(a$npar, collapse = ", "), paste(num(a$logLik), collapse = ", "),
                      paste(num(a$AIC), collapse = ", "), paste(num(a$BIC), collapse = ", "),
                      num(a$Chisq[2]), a$Df[2], num(a[["Pr(>Chisq)"]][2])))
writeLines(c("{", paste0(" ", out, collapse = ",\n"),
             sprintf(' ,"source": "lme4 %s on %s"', packageVersion("lme4"), R.version.string), "}"),
           file.path("tests", "data", "lme4_extra.json"))
